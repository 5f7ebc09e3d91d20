"""CSBM statement kinds, their strict body schemas, the Vienna Document figures and derived facts."""

from trustnet.statements.entries import decode_statement, sign_statement, statement_of
from trustnet.statements.evidence import Evidence
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
from trustnet.statements.regime_exchange import exchange_deadline
from trustnet.statements.rules import evaluate
from trustnet.statements.weights import DEFAULT_WEIGHTS, RULES, RuleWeights

__all__ = [
    "DEFAULT_WEIGHTS",
    "KINDS",
    "RULES",
    "AnnualExchange",
    "Attestation",
    "Calendar",
    "ConsultationReply",
    "ConsultationRequest",
    "Evidence",
    "InspectionReport",
    "InspectionRequest",
    "InspectionResponse",
    "Notification",
    "Observation",
    "Profile",
    "RuleWeights",
    "Statement",
    "Trust",
    "ViennaFigures",
    "days_of_notice",
    "decode_statement",
    "evaluate",
    "exchange_deadline",
    "is_notifiable",
    "is_observable",
    "notice_ok",
    "parse_body",
    "sign_statement",
    "statement_of",
    "validate_body",
]
