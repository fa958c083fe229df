"""Validation of one stream: its root entity, children and their fields.

Everything that can be checked without a record is checked here (known
keys, entities, columns, converters and their arguments, paths and where
they may be used); every problem is collected, not just the first, each
with its file, location, line and fix.
"""

from __future__ import annotations

from typing import Any, Literal

from hub.mapping.paths import Path
from hub.mapping.spec import (
    CHILD_KEYS,
    ENGINE_OWNED,
    MERGE_MODES,
    ROOT_KEYS,
    EntitySpec,
    FieldSpec,
    StreamSpec,
    ValueSpec,
    close_matches,
)
from hub.mapping.values import ValueChecker
from hub.schema import ENTITIES, entity_columns
from hub.yamlfile import YDict, YList

_ENVELOPE_HINTS = {
    "external_id": "set it with the `external_id:` key of the stream or child",
    "source_updated_at": "set it with the `updated_at:` key of the stream or child",
    "extra": "every source field the mapping does not place lands in extra by itself",
    "synced_at": "the runner stamps synced_at when it stores the row",
}

#: Columns holding the id of another canonical row (``partner_id`` -> partner). They must
#: be built with ``ref``, which makes the id of that row *of the connection's tenant*: a
#: raw value could be any id, another tenant's row included.
REFERENCE_COLUMNS = {f"{entity}_id": entity for entity in ENTITIES}


class Checker(ValueChecker):
    """Validates one stream node (from a file, possibly with overrides merged in)."""

    def stream_spec(self, source: str, node: Any) -> StreamSpec | None:
        if not isinstance(node, YDict):
            self.problem(
                node,
                None,
                [],
                "a stream must be a mapping with entity, external_id and fields",
                "see docs/mapping.md for a complete example",
            )
            return None
        root = self.entity_spec(node, [], child=False)
        children: list[EntitySpec] = []
        raw_children = node.get("children", YList(node.origin))
        if not isinstance(raw_children, list):
            self.problem(
                node,
                "children",
                ["children"],
                "children must be a list of entities",
                "write each child as a list item starting with `- entity: ...`",
            )
        else:
            for index, raw in enumerate(raw_children):
                where = ["children", index]
                if not isinstance(raw, YDict):
                    self.problem(raw_children, index, where, "a child must be a mapping")
                    continue
                child = self.entity_spec(raw, where, child=True)
                if child is not None:
                    children.append(child)
        if root is not None:
            self.merge_conflicts(node, root, children)
        if root is None or self.problems:
            return None
        return StreamSpec(source, self.stream, self.file, root, tuple(children))

    def merge_conflicts(self, node: YDict, root: EntitySpec, children: list[EntitySpec]) -> None:
        """A stream may not write one entity both as versions and as gap-filling references."""
        replaced = {root.entity} | {c.entity for c in children if c.merge == "replace"}
        raw_children = node.get("children")
        for index, child in enumerate(children):
            if child.merge == "fill" and child.entity in replaced:
                self.problem(
                    raw_children if isinstance(raw_children, list) else node,
                    index,
                    ["children", index, "merge"],
                    f"{child.entity} rows are written here both with merge: fill and as full "
                    "versions",
                    "use merge: fill only for references to entities this stream does not "
                    "otherwise write",
                )

    def entity_spec(self, node: YDict, where: list[Any], *, child: bool) -> EntitySpec | None:
        what = "a child" if child else "a stream"
        allowed = CHILD_KEYS if child else ROOT_KEYS
        # `each` on the root and `children` in a child get their own message below
        known = (*allowed, "children") if child else (*allowed, "each")
        self.unknown_keys(node, where, known, what, listed=allowed)
        if not child and "each" in node:
            self.problem(
                node,
                "each",
                [*where, "each"],
                "`each` belongs to children: the stream's root row is always one per record",
                "move this into a child: children: [{entity: ..., each: <list path>, ...}]",
            )
        if child and "children" in node:
            self.problem(
                node,
                "children",
                [*where, "children"],
                "children cannot have children of their own",
                "list every child under the stream's `children:`",
            )
        entity = self.entity_name(node, where)
        columns = entity_columns(entity) if entity else None
        each = self.each_path(node, where) if child else None
        scope_each = each is not None
        external_id = None
        if "external_id" not in node:
            self.problem(
                node,
                None,
                where,
                f"{what} needs `external_id`: the path to the record's own id",
                "e.g. external_id: id (inside `each`, relative to the element; "
                "`#` is the element's position when elements have no id)",
            )
        else:
            external_id = self.value_spec(
                node, "external_id", [*where, "external_id"], "external_id", child, scope_each
            )
        updated_at = None
        if "updated_at" in node:
            updated_at = self.value_spec(
                node, "updated_at", [*where, "updated_at"], "updated_at", child, scope_each
            )
        scope = self.scope(node, where, default="parent" if scope_each else "global")
        parent_field = self.parent_field(node, where, entity, columns) if child else None
        required = node.get("required", False)
        if not isinstance(required, bool):
            self.problem(node, "required", [*where, "required"], "required must be true or false")
        fields = self.fields(node, where, entity, columns, child, scope_each, parent_field)
        drop = self.drop_paths(node, where, child=child, each=scope_each)
        merge = node.get("merge", "replace")
        if merge not in MERGE_MODES:
            self.problem(
                node,
                "merge",
                [*where, "merge"],
                f"merge must be replace or fill, not {merge!r}",
                "fill: the row only creates the entity if missing and fills its empty columns "
                "(a reference such as the partner of a sale); replace: it is a full version",
            )
            merge = "replace"
        if entity is None or external_id is None or fields is None:
            return None
        return EntitySpec(
            entity=entity,
            external_id=external_id,
            fields=fields,
            updated_at=updated_at,
            each=each,
            scope=scope,
            parent_field=parent_field,
            required=required is True,
            merge="fill" if merge == "fill" else "replace",
            drop=drop,
        )

    def entity_name(self, node: YDict, where: list[Any]) -> str | None:
        entity = node.get("entity")
        if entity is None:
            self.problem(
                node,
                None,
                where,
                "missing `entity`: the canonical table the rows go to",
                f"use one of: {', '.join(ENTITIES)}",
            )
            return None
        if entity not in ENTITIES:
            self.problem(
                node,
                "entity",
                [*where, "entity"],
                f"unknown entity {entity!r}{close_matches(entity, list(ENTITIES))}",
                f"use one of: {', '.join(ENTITIES)}",
            )
            return None
        return str(entity)

    def each_path(self, node: YDict, where: list[Any]) -> Path | None:
        if "each" not in node:
            return None
        raw = node["each"]
        if isinstance(raw, str) and raw.startswith("^"):
            self.problem(
                node,
                "each",
                [*where, "each"],
                "`each` is already read from the parent record",
                f"remove the '^' prefix: each: {raw.lstrip('^.') or 'line_items'}",
            )
            return None
        path = self.path(node, "each", raw, [*where, "each"], child=False, each=False)
        if path is not None and path.is_whole:
            self.problem(
                node,
                "each",
                [*where, "each"],
                f"`each: {path.text}` is not a list inside the record",
                "name the list, e.g. each: line_items",
            )
            return None
        return path

    def drop_paths(
        self, node: YDict, where: list[Any], *, child: bool, each: bool
    ) -> tuple[Path, ...]:
        """``drop: [path, ...]``: paths removed from this row's extra without being stored.

        The paths follow the field grammar and are relative to the row's record
        (the element, inside ``each``). They must name something inside it:
        ``$``, ``^`` and ``#`` are refused, and a child without ``each`` has no
        extra of its own (its record's leftovers are the root's).
        """
        if "drop" not in node:
            return ()
        raw = node["drop"]
        key_where = [*where, "drop"]
        if child and not each:
            self.problem(
                node,
                "drop",
                key_where,
                "a child without `each` has no extra of its own: its record's leftovers "
                "are in the root row's extra",
                "move these paths to the stream's `drop:`",
            )
            return ()
        if not isinstance(raw, YList):
            self.problem(
                node,
                "drop",
                key_where,
                f"drop must be a list of paths, not {type(raw).__name__} {raw!r}",
                "e.g. drop: [email, phone, 'addresses[].phone', browser_ip]",
            )
            return ()
        paths: list[Path] = []
        shipped = 0  # an override's items follow the file's: number them as written there
        for index, item in enumerate(raw):
            override = raw.origin_of(index).override
            shipped += not override
            item_where = [*key_where, index - shipped if override else index]
            path = self.path(raw, index, item, item_where, child=child, each=each)
            if path is None:
                continue
            if path.base != "record" or path.is_whole:
                self.problem(
                    raw,
                    index,
                    item_where,
                    f"drop path {path.text!r} does not name a key inside this row's record",
                    "drop the keys themselves, e.g. drop: [email, customer.phone]; inside "
                    "`each` paths are relative to the element and parent fields are dropped "
                    "by the stream's own `drop:`",
                )
                continue
            paths.append(path)
        return tuple(paths)

    def scope(self, node: YDict, where: list[Any], default: str) -> Literal["parent", "global"]:
        scope = node.get("external_id_scope", default)
        if scope not in ("parent", "global"):
            self.problem(
                node,
                "external_id_scope",
                [*where, "external_id_scope"],
                f"external_id_scope must be parent or global, not {scope!r}",
                "parent: the id is '<parent external id>:<id>'; global: the id alone",
            )
            return "global"
        return "parent" if scope == "parent" else "global"

    def parent_field(
        self,
        node: YDict,
        where: list[Any],
        entity: str | None,
        columns: frozenset[str] | None,
    ) -> str | None:
        name = node.get("parent_field")
        if name is None:
            return None
        key_where = [*where, "parent_field"]
        if columns is None:
            return None
        if name in ENGINE_OWNED:
            self.problem(
                node,
                "parent_field",
                key_where,
                f"parent_field {name!r} is an envelope column the engine sets",
                "name the column that holds the parent's id, e.g. conversion_id",
            )
            return None
        if name not in columns:
            self.problem(
                node,
                "parent_field",
                key_where,
                f"parent_field {name!r} is not a column of {entity}{close_matches(name, columns)}",
                f"columns of {entity}: {', '.join(sorted(columns - ENGINE_OWNED))}",
            )
            return None
        return str(name)

    def fields(
        self,
        node: YDict,
        where: list[Any],
        entity: str | None,
        columns: frozenset[str] | None,
        child: bool,
        each: bool,
        parent_field: str | None,
    ) -> tuple[FieldSpec, ...] | None:
        raw = node.get("fields", YDict(node.origin))
        if not isinstance(raw, YDict):
            self.problem(
                node,
                "fields",
                [*where, "fields"],
                "fields must be a mapping of `column: path` lines",
                "e.g. fields: {order_ref: order_id, amount: {path: total, convert: decimal}}",
            )
            return None
        specs: list[FieldSpec] = []
        for column in raw:
            key_where = [*where, "fields", column]
            if not self.column_ok(raw, column, key_where, entity, columns, parent_field):
                continue
            spec = self.value_spec(raw, column, key_where, "field", child, each)
            if spec is not None and self.reference_ok(raw, column, key_where, spec):
                specs.append(FieldSpec(str(column), spec))
        return tuple(specs)

    def reference_ok(self, node: YDict, column: Any, where: list[Any], spec: ValueSpec) -> bool:
        """A column naming another row (``partner_id``) takes its id from ``ref`` only."""
        target = REFERENCE_COLUMNS.get(str(column))
        if target is None or (spec.ref is not None and spec.ref[0] == target):
            return True
        if spec.ref is None:
            message = f"{column!r} holds the id of a {target} row and needs `ref: {target}`"
        else:
            message = (
                f"{column!r} holds the id of a {target} row, but `ref: {spec.ref[0]}` makes "
                f"the id of a {spec.ref[0]} row"
            )
        self.problem(
            node,
            column,
            where,
            message,
            f"e.g. {column}: {{path: <the source's {target} id>, ref: {target}}}: ref builds "
            f"the id of that {target} row of this connection's tenant (never another tenant's)",
        )
        return False

    def column_ok(
        self,
        node: YDict,
        column: Any,
        where: list[Any],
        entity: str | None,
        columns: frozenset[str] | None,
        parent_field: str | None,
    ) -> bool:
        if column in ENGINE_OWNED:
            hint = _ENVELOPE_HINTS.get(
                str(column),
                "tenant, source, connection and id come from the connection and the file's "
                "`source`, never from a record (tenant isolation)",
            )
            self.problem(
                node, column, where, f"{column!r} is an envelope column the engine sets", hint
            )
            return False
        if columns is not None and column not in columns:
            self.problem(
                node,
                column,
                where,
                f"unknown column {column!r} of {entity}{close_matches(column, columns)}",
                f"columns of {entity}: {', '.join(sorted(columns - ENGINE_OWNED))}; "
                "source fields you do not place are kept in `extra` anyway",
            )
            return False
        if column == parent_field:
            self.problem(
                node,
                column,
                where,
                f"{column!r} is also the child's parent_field, which receives the parent's id",
                "remove the field or choose another parent_field",
            )
            return False
        return True
