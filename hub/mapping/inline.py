"""Inline fast paths of built-in converters, for the generated mapping functions.

Calling a converter costs a Python function call per value, and for the
common input some built-in converters do almost nothing: ``int`` of an int is
the int itself, ``upper`` of text is one method call, ``decimal`` of a money
text already read is in a cache. The compiler writes that case inline and
calls the converter for every other input, so each result is exactly the
converter's own (tests/hub/mapping/test_inline.py checks both branches
against the converters).

Only a converter used as itself (a built-in, without ``args``) is inlined: a
plugin cannot replace a built-in name, so the name says what the function does.
A converter with ``args`` is called with them as keywords instead of through
the ``functools.partial`` that holds them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from hub.mapping import converters
from hub.mapping.spec import Step

#: name -> expression of ``v`` (never ``None`` here); ``{call}`` is the converter itself,
#: ``{cache}`` the converter's cache of already-read texts.
_TEMPLATES: dict[str, str] = {
    # to_string: text as is; an int (not a bool: its class is bool) is str(n)
    "string": "v if v.__class__ is str else str(v) if v.__class__ is int else {call}(v)",
    "int": "v if v.__class__ is int else {call}(v)",
    "bool": "v if v.__class__ is bool else {call}(v)",
    "upper": "v.upper() if v.__class__ is str else {call}(v)",
    "lower": "v.lower() if v.__class__ is str else {call}(v)",
    "strip": "v.strip() if v.__class__ is str else {call}(v)",
    "decimal": "vv if v.__class__ is str and (vv := {cache}.get(v)) is not None else {call}(v)",
    "timestamp": "vv if v.__class__ is str and (vv := {cache}.get(v)) is not None else {call}(v)",
}

_CACHES: dict[str, Any] = {
    "decimal": converters._DECIMALS,
    "timestamp": converters._INSTANTS,
}


def inline_call(step: Step, bind: Callable[[Any, str], str]) -> str:
    """The expression converting ``v`` with one converter step.

    ``bind`` puts a value into the generated code's namespace and returns its
    name. Converters without a fast path are plain calls; with args, the call
    passes them as keywords when it can (see :func:`_keyword_call`).
    """
    name, function = step.name, step.function
    if step.args:
        return _keyword_call(step, bind) or f"{bind(function, '_conv')}(v)"
    call = bind(function, "_conv")
    template = _TEMPLATES.get(name)
    if template is None or function is not converters.BUILTIN_CONVERTERS.get(name):
        return f"{call}(v)"
    cache = bind(_CACHES[name], "_cache") if name in _CACHES else ""
    return template.format(call=call, cache=cache)


def _keyword_call(step: Step, bind: Callable[[Any, str], str]) -> str | None:
    """``f(v, places=_k1)`` for a step bound as ``partial(f, places=2)``, or None.

    Calling a partial with keywords copies them into a new dict on every call,
    a good part of a small converter's cost. The keywords written into the
    code are the converter's own parameter names (from its signature, never
    text of the mapping file); the values are passed through the namespace.
    Converters taking ``**kwargs`` or without a signature keep the partial.
    """
    function = step.function
    if not isinstance(function, partial) or function.args or function.keywords != step.args:
        return None
    try:
        parameters = inspect.signature(function.func).parameters.values()
    except (TypeError, ValueError):
        return None
    names = {
        p.name: p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    if not all(key in names for key in step.args):
        return None
    call = bind(function.func, "_conv")
    keywords = ", ".join(f"{names[key]}={bind(value, '_arg')}" for key, value in step.args.items())
    return f"{call}(v, {keywords})"
