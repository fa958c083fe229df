"""Compile a validated stream mapping into one plain Python function.

The generated function reads each path with inline ``dict.get`` chains,
calls converters directly, and builds the row dicts as literals; it is
produced once per stream (and per override set) with ``compile()`` and then
called for every record. docs/decisions/0002-compiled-mappings.md records
why code generation was chosen over composed closures and what it gains.

Safety: no text from a mapping file is ever spliced into the generated code
except dictionary keys written through ``repr()`` of a ``str`` (always a
valid, inert literal). Every other value (converters, constants, maps,
getters) is passed in through the function's namespace under a generated
name.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hub.errors import RecordError
from hub.mapping.codegen import Code
from hub.mapping.extra import ALWAYS, build_tree, emit_pruner
from hub.mapping.ids import fast_make_id
from hub.mapping.inline import inline_call
from hub.mapping.paths import HELPERS, Key, Path, emit_getter
from hub.mapping.runtime import (
    Site,
    field_error,
    id_text,
    key_reader,
    missing_id,
    not_a_list,
    not_a_record,
    required_error,
    template_text,
    unmapped_error,
)
from hub.mapping.spec import NOTHING, EntitySpec, StreamSpec, ValueSpec
from hub.schema import ENTITIES

_MISSING = object()
_ONCE = (None,)
_IMMUTABLE = (str, int, float, bool, type(None))

MapFunction = Callable[[Any, str, str], list[tuple[str, dict[str, Any]]]]


class CompiledMapping:
    """One stream's mapping, compiled: call it with a record to get its canonical rows."""

    source: str
    stream: str
    entities: tuple[str, ...]

    def __init__(self, spec: StreamSpec, function: MapFunction, source_code: str) -> None:
        self.source = spec.source
        self.stream = spec.stream
        self.entities = spec.entities
        #: Entities this stream only references (``merge: fill``): the store creates
        #: them if missing and fills their empty columns, never overwriting a version.
        self.fill_entities = spec.fill_entities
        self.spec = spec
        #: The generated Python code, for debugging (``print(mapping.source_code)``).
        self.source_code = source_code
        self._function = function

    def __call__(
        self, record: dict[str, Any], *, tenant: str, connection: str
    ) -> list[tuple[str, dict[str, Any]]]:
        """Rows (entity name, column dict) for one source record, the root row first.

        Each dict has id, tenant, source, connection, external_id,
        source_updated_at, extra and the mapped columns (not synced_at: the
        runner stamps it). Raises RecordError for anything wrong in the record.
        """
        return self._function(record, tenant, connection)

    def __repr__(self) -> str:
        return f"<CompiledMapping {self.source}/{self.stream} -> {', '.join(self.entities)}>"


# -- code generation ----------------------------------------------------------


@dataclass
class _Scope:
    """Variable names of the row being built: its record, parent, index and mask."""

    record: str  # "R" (the record) or "E" (the element)
    index: str | None  # "I" inside each children
    mask: str  # "m" or "cm"
    row_id: str  # variable with the record's external id for messages
    known_dict: bool  # record variable is known to be a dict
    removals: list[tuple[Path, int]] | None  # paths to remove from this scope's extra
    parent_removals: list[tuple[Path, int]] | None  # ^. paths go here (None: not removed)
    # the mask bits handed out so far, shared by every scope using the same mask variable
    bits: list[int] = field(default_factory=lambda: [1])
    # the condition of a path that is always removed when its row exists
    always: int = ALWAYS
    # a local holding a key reader of the record (``E``'s get, made once per element)
    getter: str | None = None

    def bit(self) -> int:
        bit = self.bits[0]
        self.bits[0] <<= 1
        return bit


class _Generator:
    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.code = Code(
            {
                **HELPERS,
                "_RecordError": RecordError,
                "_make_id": fast_make_id,
                "_id_text": id_text,
                "_key_reader": key_reader,
                "_field_error": field_error,
                "_required_error": required_error,
                "_unmapped_error": unmapped_error,
                "_missing_id": missing_id,
                "_not_a_list": not_a_list,
                "_not_a_record": not_a_record,
                "_template": template_text,
                "_copy": copy.deepcopy,
                "_MISSING": _MISSING,
                "_ONCE": _ONCE,
                "_SOURCE": spec.source,
                "_STREAM": f"{spec.source}/{spec.stream}",
            }
        )

    def name(self, value: Any, prefix: str = "_k") -> str:
        return self.code.bind(value, prefix)

    def emit(self, indent: int, line: str) -> None:
        self.code.emit(indent, line)

    # -- whole function -----------------------------------------------------

    def generate(self) -> str:
        spec = self.spec
        root = spec.root
        self.emit(0, "def _map(R, tenant, connection):")
        self.emit(1, "if R.__class__ is not dict and not isinstance(R, dict):")
        self.emit(2, "raise _not_a_record(_STREAM, R)")
        self.emit(1, "m = 0")
        self.emit(1, "ext = None")
        root_removals: list[tuple[Path, int]] = [(path, ALWAYS) for path in root.drop]
        scope = _Scope("R", None, "m", "ext", True, root_removals, root_removals)
        self.external_id(root, scope, 1, target="ext", prefix=None)
        self.emit(1, f"rid = _make_id(tenant, _SOURCE, {root.entity!r}, ext)")
        self.updated_at(root, scope, 1, target="upd", inherit=None)
        columns = self.fields(root, scope, 1)
        row = self.row_literal(root, "rid", "ext", "upd", "None", columns, parent=None)
        self.emit(1, f"row0 = {row}")
        self.emit(1, f"rows = [({root.entity!r}, row0)]")
        for number, child in enumerate(spec.children):
            if child.each is None:
                self.same_record_child(child, number, scope)
            else:
                root_removals.append((child.each, ALWAYS))
                self.each_child(child, number)
        pruner = emit_pruner(self.code, build_tree(root_removals))
        self.emit(1, f"row0['extra'] = {pruner}(R, m)")
        self.emit(1, "return rows")
        return self.code.source()

    def same_record_child(self, child: EntitySpec, number: int, scope: _Scope) -> None:
        """A child without ``each``: one more row from the same record (skipped without id).

        What it places leaves the root's extra only when its row is made: the
        child's own mask bit stands for "this row exists".
        """
        row_bit = scope.bit()
        scope = replace(scope, always=row_bit)  # shares the removals and the bit counter
        self.emit(1, "for _ in _ONCE:")
        self.external_id(child, scope, 2, target="cext", prefix="ext")
        self.emit(2, f"cid = _make_id(tenant, _SOURCE, {child.entity!r}, cext)")
        self.updated_at(child, scope, 2, target="cupd", inherit="upd")
        columns = self.fields(child, scope, 2)
        row = self.row_literal(child, "cid", "cext", "cupd", "{}", columns, parent="rid")
        self.emit(2, f"rows.append(({child.entity!r}, {row}))")
        self.emit(2, f"m |= {row_bit}")

    def each_child(self, child: EntitySpec, number: int) -> None:
        assert child.each is not None
        removals: list[tuple[Path, int]] = [(path, ALWAYS) for path in child.drop]
        scope = _Scope("E", "I", "cm", "ext", False, removals, None, getter="Eg")
        site = self.site(child.entity, "each", child.each.text, False)
        self.emit(1, "v = None")
        self.path_into(child.each, _Scope("R", None, "m", "ext", True, [], None), 1, bit=0)
        self.emit(1, "if v is not None:")
        self.emit(2, "if v.__class__ is not list:")
        self.emit(3, f"raise _not_a_list({site}, v, ext)")
        self.emit(2, "for I, E in enumerate(v):")
        self.emit(3, "cm = 0")
        self.emit(3, "Eg = E.get if E.__class__ is dict else _key_reader(E)")
        self.external_id(child, scope, 3, target="cext", prefix="ext")
        self.emit(3, f"cid = _make_id(tenant, _SOURCE, {child.entity!r}, cext)")
        self.updated_at(child, scope, 3, target="cupd", inherit="upd")
        columns = self.fields(child, scope, 3)
        pruner = emit_pruner(self.code, build_tree(removals))
        row = self.row_literal(
            child, "cid", "cext", "cupd", f"{pruner}(E, cm)", columns, parent="rid"
        )
        self.emit(3, f"rows.append(({child.entity!r}, {row}))")

    def row_literal(
        self,
        entity: EntitySpec,
        row_id: str,
        ext: str,
        updated: str,
        extra: str,
        columns: list[tuple[str, str]],
        parent: str | None,
    ) -> str:
        items = [
            f"'id': {row_id}",
            "'tenant': tenant",
            "'source': _SOURCE",
            "'connection': connection",
            f"'external_id': {ext}",
            f"'source_updated_at': {updated}",
            f"'extra': {extra}",
        ]
        if parent is not None and entity.parent_field is not None:
            items.append(f"{entity.parent_field!r}: {parent}")
        items += [f"{column!r}: {variable}" for column, variable in columns]
        return "{" + ", ".join(items) + "}"

    # -- envelope values ------------------------------------------------------

    def external_id(
        self, entity: EntitySpec, scope: _Scope, indent: int, target: str, prefix: str | None
    ) -> None:
        """Compute the external id into ``target``; children without one are skipped."""
        site = self.site(entity.entity, "external_id", entity.external_id.describe(), False)
        self.value(entity.external_id, scope, indent, site)
        index = scope.index or "None"
        self.emit(indent, "if v is None or v == '':")
        if prefix is None or entity.required:
            self.emit(indent + 1, f"raise _missing_id({site}, v, {index})")
        else:
            self.emit(indent + 1, "continue")
        self.emit(indent, "try:")
        # id_text of an int (not a bool: its class is bool) is str(v)
        self.emit(
            indent + 1,
            f"{target} = v if v.__class__ is str else str(v) if v.__class__ is int "
            "else _id_text(v)",
        )
        self.emit(indent, "except (TypeError, ValueError) as e:")
        self.emit(indent + 1, f"raise _field_error({site}, v, e, {scope.row_id}, {index}) from e")
        if prefix is not None and entity.scope == "parent":
            self.emit(indent, f"{target} = {prefix} + ':' + {target}")

    def updated_at(
        self, entity: EntitySpec, scope: _Scope, indent: int, target: str, inherit: str | None
    ) -> None:
        if entity.updated_at is None:
            self.emit(indent, f"{target} = {inherit or 'None'}")
            return
        site = self.site(entity.entity, "updated_at", entity.updated_at.describe(), False)
        self.value(entity.updated_at, scope, indent, site)
        self.emit(indent, f"{target} = v")

    def fields(self, entity: EntitySpec, scope: _Scope, indent: int) -> list[tuple[str, str]]:
        model = ENTITIES[entity.entity][0]
        columns: list[tuple[str, str]] = []
        for number, item in enumerate(entity.fields):
            spec = item.value
            site = self.site(entity.entity, item.column, spec.describe(), spec.sensitive)
            self.value(spec, scope, indent, site)
            fallback = _column_default(model, item.column)
            if fallback is not NOTHING:
                self.emit(indent, "if v is None:")
                self.emit(indent + 1, f"v = {self.constant(fallback)}")
            variable = f"f{indent}_{number}"
            self.emit(indent, f"{variable} = v")
            columns.append((item.column, variable))
        return columns

    def site(self, entity: str, column: str, origin: str, sensitive: bool) -> str:
        stream = f"{self.spec.source}/{self.spec.stream}"
        return self.name(Site(stream, entity, column, origin, sensitive), "_site")

    def constant(self, value: Any) -> str:
        name = self.name(value)
        if isinstance(value, _IMMUTABLE) or value.__class__.__module__ in ("decimal", "datetime"):
            return name
        if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
            return f"{name}()"  # a column default factory (list, dict)
        return f"_copy({name})"

    # -- one value --------------------------------------------------------------

    def value(self, spec: ValueSpec, scope: _Scope, indent: int, site: str) -> None:
        """Code leaving the value of ``spec`` in ``v``; errors name ``site``."""
        index = scope.index or "None"
        if spec.keep_in_extra:  # read, but place nothing: the values stay in extra
            scope = replace(scope, removals=None, parent_removals=None)
        if spec.constant is not NOTHING and spec.ref is None:
            self.emit(indent, f"v = {self.constant(spec.constant)}")  # folded at load time
            if spec.required and spec.constant is None:
                self.emit(indent, f"raise _required_error({site}, {scope.row_id}, {index})")
            return
        self.emit(indent, "v = None")
        self.emit(indent, "try:")
        self.pipeline(spec, scope, indent + 1, site, bit=0)
        if spec.required:
            self.emit(indent + 1, "if v is None:")
            self.emit(indent + 2, f"raise _required_error({site}, {scope.row_id}, {index})")
        if spec.ref is not None:
            entity, source = spec.ref
            source_expr = repr(source) if source else "_SOURCE"
            self.emit(indent + 1, "if v is not None:")
            self.emit(indent + 2, f"v = _make_id(tenant, {source_expr}, {entity!r}, _id_text(v))")
        self.emit(indent, "except _RecordError:")
        self.emit(indent + 1, "raise")
        self.emit(indent, "except Exception as e:")
        self.emit(indent + 1, f"raise _field_error({site}, v, e, {scope.row_id}, {index}) from e")

    def pipeline(self, spec: ValueSpec, scope: _Scope, indent: int, site: str, bit: int) -> None:
        """Source, converters, map and default of ``spec`` into ``v``."""
        if spec.constant is not NOTHING:
            self.emit(indent, f"v = {self.constant(spec.constant)}")
            return
        if spec.paths:
            self.paths(spec.paths, scope, indent, bit)
        elif spec.template is not None:
            self.template(spec.template, scope, indent, bit)
        else:
            self.alternatives(spec.alternatives, scope, indent, site)
        for step in spec.steps:
            self.emit(indent, "if v is not None:")
            self.emit(indent + 1, f"v = {inline_call(step, self.name)}")
        if spec.mapping is not None:
            table = self.name(spec.mapping, "_map")
            self.emit(indent, "if v is not None:")
            if spec.unmapped == "keep":
                self.emit(indent + 1, f"v = {table}.get(v, v)")
            elif spec.unmapped == "null":
                self.emit(indent + 1, f"v = {table}.get(v)")
            else:
                index = scope.index or "None"
                self.emit(indent + 1, f"w = {table}.get(v, _MISSING)")
                self.emit(indent + 1, "if w is _MISSING:")
                self.emit(indent + 2, f"raise _unmapped_error({site}, v, {scope.row_id}, {index})")
                self.emit(indent + 1, "v = w")
        if spec.default is not None:
            self.emit(indent, "if v is None:")
            self.emit(indent + 1, f"v = {self.constant(spec.default)}")

    def paths(self, paths: tuple[Path, ...], scope: _Scope, indent: int, bit: int) -> None:
        """First non-null of ``paths``; with several, only the one used leaves ``extra``."""
        if len(paths) == 1:
            self.path_into(paths[0], scope, indent, bit or ALWAYS)
            return
        for number, path in enumerate(paths):
            path_bit = scope.bit()
            self.path_into(path, scope, indent + number, path_bit)
            self.emit(indent + number, "if v is not None:")
            self.emit(indent + number + 1, f"{scope.mask} |= {path_bit}")
            if number < len(paths) - 1:
                self.emit(indent + number, "else:")

    def alternatives(
        self, alternatives: tuple[ValueSpec, ...], scope: _Scope, indent: int, site: str
    ) -> None:
        for number, alternative in enumerate(alternatives):
            alt_bit = scope.bit()
            self.pipeline(alternative, scope, indent + number, site, alt_bit)
            self.emit(indent + number, "if v is not None:")
            self.emit(indent + number + 1, f"{scope.mask} |= {alt_bit}")
            if number < len(alternatives) - 1:
                self.emit(indent + number, "else:")

    def template(self, parts: tuple[str | Path, ...], scope: _Scope, indent: int, bit: int) -> None:
        shape = tuple(None if isinstance(part, Path) else part for part in parts)
        self.emit(indent, "T = []")
        for part in parts:
            if isinstance(part, Path):
                self.path_into(part, scope, indent, bit or ALWAYS)
                self.emit(indent, "T.append(v)")
        self.emit(indent, f"v = _template({self.name(shape)}, T)")

    def path_into(self, path: Path, scope: _Scope, indent: int, bit: int) -> None:
        """Code reading ``path`` into ``v``; records the path for ``extra`` removal."""
        if path.base == "index":
            self.emit(indent, f"v = {scope.index}")
            return
        if path.base == "parent":
            variable, known_dict, removals = "R", True, scope.parent_removals
            getter = None
        else:
            variable, known_dict, removals = scope.record, scope.known_dict, scope.removals
            getter = scope.getter
        if removals is not None and bit:
            removals.append((path, scope.always if bit == ALWAYS else bit))
        if path.is_whole:
            self.emit(indent, f"v = {variable}")
            return
        if not path.is_simple:
            self.emit(indent, f"v = {emit_getter(self.code, path)}({variable})")
            return
        current = variable
        for number, segment in enumerate(path.segments):
            assert isinstance(segment, Key)
            key = repr(segment.name)
            if number == 0 and known_dict and segment.index is None:
                self.emit(indent, f"v = {current}.get({key})")
            elif number == 0 and getter is not None and segment.index is None:
                self.emit(indent, f"v = {getter}({key})")
            elif segment.index is None:
                guard = "" if number == 0 else "if v is not None: "
                self.emit(
                    indent,
                    f"{guard}v = {current}.get({key}) if {current}.__class__ is dict "
                    f"else _gk({current}, {key}, None)",
                )
            else:
                guard = "" if number == 0 else "if v is not None: "
                self.emit(indent, f"{guard}v = _gk({current}, {key}, {segment.index})")
            current = "v"


def _column_default(model: Any, column: str) -> Any:
    """The schema default used when a non-nullable column gets ``None`` (else NOTHING)."""
    info = model.model_fields[column]
    if info.is_required() or _nullable(info.annotation):
        return NOTHING
    if info.default_factory is not None:
        return info.default_factory
    return info.default


def _nullable(annotation: Any) -> bool:
    if annotation is None or annotation is type(None):
        return True
    return type(None) in typing.get_args(annotation)


def compile_stream(spec: StreamSpec) -> CompiledMapping:
    """Generate, compile and wrap the function for one validated stream."""
    generator = _Generator(spec)
    source_code = generator.generate()
    filename = f"<mapping {spec.source}/{spec.stream}>"
    code = compile(source_code, filename, "exec")
    namespace = generator.code.ns
    exec(code, namespace)  # noqa: S102 - our own generated code, see the module docstring
    return CompiledMapping(spec, namespace["_map"], source_code)
