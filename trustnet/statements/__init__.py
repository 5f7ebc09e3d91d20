"""CSBM statement kinds, their strict body schemas, the Vienna Document figures and derived facts."""

from trustnet.statements.facts import days_of_notice, is_notifiable, is_observable, notice_ok
from trustnet.statements.figures import ViennaFigures
from trustnet.statements.kinds import (
    KINDS,
    AnnualExchange,
    Attestation,
    Calendar,
    ConsultationReply,
    ConsultationRequest,
    InspectionReport,
    InspectionRequest,
    InspectionResponse,
    Notification,
    Observation,
    Profile,
    Statement,
    Trust,
    parse_body,
    validate_body,
)

__all__ = [
    "KINDS",
    "AnnualExchange",
    "Attestation",
    "Calendar",
    "ConsultationReply",
    "ConsultationRequest",
    "InspectionReport",
    "InspectionRequest",
    "InspectionResponse",
    "Notification",
    "Observation",
    "Profile",
    "Statement",
    "Trust",
    "ViennaFigures",
    "days_of_notice",
    "is_notifiable",
    "is_observable",
    "notice_ok",
    "parse_body",
    "validate_body",
]
