"""Config of the generic REST connector: where the API is, how to page, what the cursor is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class RestStreamSettings(BaseModel):
    """One stream: an endpoint returning a JSON list of records, page by page."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Endpoint path below base_url, e.g. /orders.")
    records_path: str = Field(
        default="", description="Dotted path to the list of records in the body ('' = the body)."
    )
    primary_key: str = Field(default="id", description="Field that identifies a record.")
    cursor_field: str | None = Field(
        default=None, description="Record field that grows on change (e.g. updated_at)."
    )
    cursor_param: str | None = Field(
        default=None,
        description="Query parameter that asks for records with cursor >= value "
        "(e.g. updated_since). Without it every sync reads everything.",
    )
    sorted_by_cursor: bool = Field(
        default=False,
        description="The API returns records in ascending cursor order: the cursor is then "
        "checkpointed after every page, otherwise only at the end of the stream.",
    )
    params: dict[str, str | int] = Field(
        default_factory=dict, description="Fixed query parameters of the first request."
    )
    pagination: Literal["link", "cursor", "offset", "none"] = "link"
    page_size: int = Field(default=100, ge=1, description="Records per page.")
    page_size_param: str = "limit"
    offset_param: str = "offset"
    next_cursor_path: str = Field(
        default="next", description="cursor paging: where the next cursor is in the body."
    )
    next_cursor_param: str = Field(
        default="cursor", description="cursor paging: query parameter that sends it back."
    )


class RestSettings(BaseModel):
    """A JSON API with bearer-token (or custom header) auth."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The API's root URL, e.g. https://api.partner.example.")
    token: SecretStr | None = Field(default=None, description="API token (use ${ENV_VAR}).")
    auth_header: str = "Authorization"
    auth_scheme: str = Field(default="Bearer", description="Prefix of the token ('' for none).")
    start_cursor: str | None = Field(
        default=None, description="Cursor value of the first sync (e.g. 2024-10-01T00:00:00Z)."
    )
    requests_per_second: float | None = Field(
        default=None, gt=0, description="Client-side rate limit."
    )
    streams: dict[str, RestStreamSettings] = Field(min_length=1)
