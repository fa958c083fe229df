"""Validating mapped rows fast: one pass of pydantic-core per row, a plain dict out.

The row models (``ConversionRow``...) are SQLModel classes so that the table
models inherit their fields. SQLModel routes validation through its own
``__init__`` (a Python detour per row) and ``model_dump`` walks the result
again; on the sync path that was a third of the time spent per row. Here each
row model gets a plain pydantic twin with the very same fields (annotations,
defaults, constraints) and model validators, built from the model itself so
the two cannot drift; the twin's validated ``__dict__`` is the row.

``extra`` is not re-validated when it already is what the column holds (a
dict with text keys, as every mapping builds it): validating it would copy
every unplaced source field of every row for nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model, model_validator

from hub.schema.models import ENTITIES


@cache
def _twin(entity: str) -> type[BaseModel]:
    model = ENTITIES[entity][0]
    validators = {
        f"_check_{name}": model_validator(mode=decorator.info.mode)(decorator.func)
        for name, decorator in model.__pydantic_decorators__.model_validators.items()
    }
    twin: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Check",
        __config__=ConfigDict(from_attributes=True),  # as SQLModel's
        __validators__=validators,
        **{name: (field.annotation, field) for name, field in model.model_fields.items()},
    )
    twin.money_fields = model.money_fields  # type: ignore[attr-defined] # read by a validator
    return twin


def validate_row(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` validated against ``entity``'s model, as a new dict of every column.

    Raises pydantic's ``ValidationError`` exactly as ``Model.model_validate``
    would (same locations and messages).
    """
    validator = _twin(entity).__pydantic_validator__
    extra = row.get("extra")
    if type(extra) is dict and all(type(key) is str for key in extra):
        rest = {key: value for key, value in row.items() if key != "extra"}
        try:
            validated = dict(validator.validate_python(rest).__dict__)
        except ValidationError:
            pass  # fall through: the errors then show the whole row, as the model's do
        else:
            validated["extra"] = extra
            return validated
    return dict(validator.validate_python(row).__dict__)
