"""Statements compiled to closures that append text to the output list."""

from __future__ import annotations

from wsllm.evals.nunjucks import nodes as n
from wsllm.evals.nunjucks.expressions import compile_expression, syntax_error
from wsllm.evals.nunjucks.loops import compile_for
from wsllm.evals.nunjucks.operators import strict_equal
from wsllm.evals.nunjucks.runtime import Body, Expression, Frame, MacroFunction, RenderState
from wsllm.evals.nunjucks.values import to_output, truthy


class Compiler:
    """Turns a syntax tree into one Body; `nested` tells a macro defined inside a loop or a
    caller (which stays in that scope) from one at the top (which every later macro sees)."""

    def __init__(self) -> None:
        self.nested = False
        self.blocks: set[str] = set()
        self.runs_away = False  # a loop, a macro, a call or a regex: a render needs a time bound
        self.filters_used: set[str] = set()

    def note_filter(self, name: str) -> None:
        self.filters_used.add(name)

    def note_slow(self) -> None:
        self.runs_away = True

    def body(self, statements: list[n.Node]) -> Body:
        parts = [self.statement(s) for s in statements]
        if len(parts) == 1:
            return parts[0]

        def run(rt: RenderState, out: list[str]) -> None:
            for part in parts:
                part(rt, out)

        return run

    def capture(self, body: list[n.Node]) -> Body:
        return self.body(body)

    def expression(self, node: n.Node) -> Expression:
        return compile_expression(node, self)

    def statement(self, node: n.Node) -> Body:
        if isinstance(node, n.Output):
            return self._output(node)
        if isinstance(node, n.If):
            return self._if(node)
        if isinstance(node, n.For):
            self.runs_away = True
            return compile_for(node, self.expression(node.iterable), *self._loop_bodies(node))
        if isinstance(node, n.Set):
            return self._set(node)
        if isinstance(node, n.MacroDefinition):
            return self._macro_definition(node.macro)
        if isinstance(node, n.Switch):
            return self._switch(node)
        if isinstance(node, n.Block):
            return self._block(node)
        raise syntax_error(node, f"unexpected {type(node).__name__}")

    def _output(self, node: n.Output) -> Body:
        writers = [self._writer(item, node.line) for item in node.items if item != ""]
        if len(writers) == 1:
            return writers[0]

        def run(rt: RenderState, out: list[str]) -> None:
            for writer in writers:
                writer(rt, out)

        return run

    def _writer(self, item: str | n.Node, line: int) -> Body:
        if isinstance(item, str):
            size = len(item)

            def write_text(rt: RenderState, out: list[str]) -> None:
                rt.wrote(size)
                out.append(item)

            return write_text
        value = self.expression(item)

        def write_value(rt: RenderState, out: list[str]) -> None:
            rt.line = line
            text = value(rt)
            if type(text) is not str:
                text = to_output(text)
            rt.wrote(len(text))
            out.append(text)

        return write_value

    def _if(self, node: n.If) -> Body:
        cond = self.expression(node.cond)
        body = self.body(node.body)
        otherwise = self.body(node.otherwise) if node.otherwise else None
        line = node.line

        def run(rt: RenderState, out: list[str]) -> None:
            rt.line = line
            if truthy(cond(rt)):
                body(rt, out)
            elif otherwise is not None:
                otherwise(rt, out)

        return run

    def _loop_bodies(self, node: n.For) -> tuple[Body, Body | None]:
        outer, self.nested = self.nested, True
        body = self.body(node.body)
        self.nested = outer
        otherwise = self.body(node.otherwise) if node.otherwise is not None else None
        return body, otherwise

    def _set(self, node: n.Set) -> Body:
        value = self.expression(node.value)
        names, line = node.names, node.line

        def run(rt: RenderState, out: list[str]) -> None:
            rt.line = line
            result = value(rt)
            frame = rt.frame
            for name in names:
                frame.assign(name, result)
                if frame.top:
                    rt.overlay[name] = result

        return run

    def macro(self, macro: n.Macro) -> tuple[list[tuple[str, Expression]], Body]:
        """A macro's defaults and body; inside it, macros count as top-level again."""
        self.runs_away = True
        outer, self.nested = self.nested, macro.name == "caller"
        defaults = [(name, self.expression(value)) for name, value in macro.defaults]
        body = self.body(macro.body)
        self.nested = outer
        return defaults, body

    def _macro_definition(self, macro: n.Macro) -> Body:
        defaults, body = self.macro(macro)
        name, params, nested = macro.name, macro.params, self.nested

        def run(rt: RenderState, out: list[str]) -> None:
            function = MacroFunction(rt, params, defaults, body, keeps_frame=False)
            rt.frame.vars[name] = function
            if not nested:
                rt.overlay[name] = function

        return run

    def _switch(self, node: n.Switch) -> Body:
        subject = self.expression(node.subject)
        cases = [(self.expression(cond), self.body(body), bool(body)) for cond, body in node.cases]
        default = self.body(node.default) if node.default is not None else None
        runs: list[tuple[Body, bool]] = [(body, stops) for _, body, stops in cases]
        if default is not None:
            runs.append((default, True))

        def run(rt: RenderState, out: list[str]) -> None:
            value = subject(rt)
            start = next(
                (i for i, (cond, _, _) in enumerate(cases) if strict_equal(value, cond(rt))), None
            )
            if start is None:
                start = len(cases) if default is not None else len(runs)
            for body, stops in runs[start:]:  # a case with an empty body falls through
                body(rt, out)
                if stops:
                    break

        return run

    def _block(self, node: n.Block) -> Body:
        if node.name in self.blocks:
            raise syntax_error(node, f'Block "{node.name}" defined more than once.')
        self.blocks.add(node.name)
        outer, self.nested = self.nested, False
        body = self.body(node.body)
        self.nested = outer

        def run(rt: RenderState, out: list[str]) -> None:
            outer_frame = rt.frame
            rt.frame = Frame(outer_frame, isolated=True)
            body(rt, out)
            rt.frame = outer_frame

        return run
