"""Specs: pydantic v2 models, frozen, unknown keys forbidden. Each exports its JSON Schema."""

from .base import Spec, validate_spec
from .collateral import Collateral, RepLine
from .deal import Deal
from .scenario import Default, Prepay, Scenario

__all__ = ["Spec", "validate_spec", "Collateral", "RepLine", "Deal", "Default", "Prepay", "Scenario"]
