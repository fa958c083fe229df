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
every unplaced source field of every row for nothing. Such a row goes through
a second twin without the ``extra`` field, which ignores the key, so the row
is not copied either.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model, model_validator

from hub.schema.models import ENTITIES

#: Exactly what the fast path accepts as ``extra``'s key types: none, or text only.
_TEXT_KEYS = frozenset({str})


@cache
def _twin(entity: str, *, with_extra: bool = True) -> type[BaseModel]:
    model = ENTITIES[entity][0]
    validators = {
        f"_check_{name}": model_validator(mode=decorator.info.mode)(decorator.func)
        for name, decorator in model.__pydantic_decorators__.model_validators.items()
    }
    twin: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Check" if with_extra else f"{model.__name__}CheckWithoutExtra",
        __config__=ConfigDict(from_attributes=True),  # as SQLModel's; unknown keys ignored
        __validators__=validators,
        **{
            name: (field.annotation, field)
            for name, field in model.model_fields.items()
            if with_extra or name != "extra"
        },
    )
    twin.money_fields = model.money_fields  # type: ignore[attr-defined] # read by a validator
    return twin


def validate_row(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` validated against ``entity``'s model, as a new dict of every column.

    Raises pydantic's ``ValidationError`` exactly as ``Model.model_validate``
    would (same locations and messages).
    """
    extra = row.get("extra")
    if type(extra) is dict and set(map(type, extra)) <= _TEXT_KEYS:
        try:
            # the twin's validated __dict__ is a new dict of its own: no copy needed
            validated: dict[str, Any] = (
                _twin(entity, with_extra=False).__pydantic_validator__.validate_python(row).__dict__
            )
        except ValidationError:
            pass  # fall through: the errors then show the whole row, as the model's do
        else:
            validated["extra"] = extra
            return validated
    return dict(_twin(entity).__pydantic_validator__.validate_python(row).__dict__)
