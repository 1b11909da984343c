"""A static estimate of how much a query can answer, refused above a budget before it runs.

Depth, token and alias limits bound the query's text, not its answer: ten aliases of
`events(first: 100) { nodes { properties } }` are 750 bytes that asked for 100 MB. So each
operation gets a cost before execution: the number of values its answer can hold at most.

* Every field selected counts once per object it is selected on; a `JSON` value counts as
  `JSON_VALUE_COST` (its serialized size cap, in 32-byte values); a list of scalars counts once.
* Objects multiply down through lists. A field with a `first` argument returns at most `first`
  items (its default when left out; never more than the page size limit), which its
  connection's `nodes` then hold; any other list holds at most its bound in `LIST_BOUNDS`, the
  caps the API enforces elsewhere.
* A field computed at most N times per request (`PER_REQUEST`) counts at most N times.
* `@skip` and `@include` are ignored: the estimate is for the worst case.

`QueryCost` refuses an operation over the budget with `QUERY_TOO_COSTLY`, naming both numbers.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    validate,
    value_from_ast,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from core.derived_events import Kind
from core.funnels import MAX_EXCLUSIONS, MAX_STEPS
from core.json_size import MAX_JSON_VALUE_BYTES
from core.time_ranges import MAX_RANGE
from graph.api_keys import MAX_KEYS_PER_ACCOUNT
from graph.errors import QueryTooCostlyError
from graph.funnel_results import MAX_RESULTS_PER_REQUEST
from graph.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graph.sites import MAX_SITES_PER_ACCOUNT
from storage.funnels import MAX_FUNNELS_PER_SITE
from storage.sessions import MAX_PAGES

DEFAULT_MAX_COST = 100_000
JSON_VALUE_COST = MAX_JSON_VALUE_BYTES // 32
TOP_ELEMENTS = 20
BREAKDOWN_VALUES = 300  # device types, countries, browser families: a few hundred at most

# The most items each list of objects without `first` can hold.
LIST_BOUNDS: dict[str, int] = {
    "Query.sites": MAX_SITES_PER_ACCOUNT,
    "Account.sites": MAX_SITES_PER_ACCOUNT,
    "Query.apiKeys": MAX_KEYS_PER_ACCOUNT,
    "Query.funnels": MAX_FUNNELS_PER_SITE,
    "Query.eventCounts": MAX_RANGE.days * len(Kind),  # daily buckets of the longest range
    "Funnel.steps": MAX_STEPS,
    "FunnelResult.steps": MAX_STEPS,
    "FunnelResult.breakdown": BREAKDOWN_VALUES,
    "FunnelBreakdown.steps": MAX_STEPS,
    "FunnelStepDefinition.exclusions": MAX_EXCLUSIONS,
    "Heatmap.topElements": TOP_ELEMENTS,
    "Session.pages": MAX_PAGES,
}
# Fields with `first` whose default is not DEFAULT_PAGE_SIZE.
FIRST_DEFAULTS: dict[str, int] = {"Query.privacyRequests": MAX_PAGE_SIZE}
PER_REQUEST: dict[str, int] = {
    "Funnel.result": MAX_RESULTS_PER_REQUEST,
    "Query.funnelResult": MAX_RESULTS_PER_REQUEST,
}


def list_size(
    parent: GraphQLObjectType,
    name: str,
    field: GraphQLField,
    node: FieldNode | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """How many items one `parent.name` can hold: `first`, a connection's nodes, or a bound."""
    key = f"{parent.name}.{name}"
    if "first" in field.args:
        return _first(node, variables or {}, FIRST_DEFAULTS.get(key, DEFAULT_PAGE_SIZE))
    if not _is_object_list(field.type):
        return 1
    if parent.name.endswith("Connection") and name == "nodes":
        return 1  # the connection's `first` already counted them
    return LIST_BOUNDS[key]


def _first(node: FieldNode | None, variables: Mapping[str, Any], default: int) -> int:
    arguments = (node.arguments if node else None) or ()
    argument = next((a for a in arguments if a.name.value == "first"), None)
    if argument is None:
        return default
    value = value_from_ast(argument.value, GraphQLInt, dict(variables))
    if not isinstance(value, int):  # null, or a variable not given
        return default
    return min(max(value, 1), MAX_PAGE_SIZE)


def _is_object_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList) and isinstance(get_named_type(inner), GraphQLObjectType)


class _Estimate:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema, self.variables = schema, variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def selection(self, selections: SelectionSetNode, parent: GraphQLObjectType, times: int) -> int:
        return sum(self.field(item, times) for item in self.fields(selections, parent))

    def fields(
        self, selections: SelectionSetNode, parent: GraphQLObjectType
    ) -> Iterator[tuple[FieldNode, GraphQLObjectType]]:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                yield node, parent
                continue
            source = (
                self.fragments[node.name.value] if isinstance(node, FragmentSpreadNode) else node
            )
            assert isinstance(source, FragmentDefinitionNode | InlineFragmentNode)
            condition, selection = source.type_condition, source.selection_set
            inner = self.schema.get_type(condition.name.value) if condition else parent
            yield from self.fields(
                selection, inner if isinstance(inner, GraphQLObjectType) else parent
            )

    def field(self, item: tuple[FieldNode, GraphQLObjectType], times: int) -> int:
        node, parent = item
        name = node.name.value
        field = parent.fields.get(name)
        if field is None:  # __typename, or introspection: counted flat
            return times * (1 + self._flat(node.selection_set))
        times = min(times, PER_REQUEST.get(f"{parent.name}.{name}", times))
        named = get_named_type(field.type)
        own = times * (JSON_VALUE_COST if named.name == "JSON" else 1)
        if node.selection_set is None or not isinstance(named, GraphQLObjectType):
            return own
        items = times * list_size(parent, name, field, node, self.variables)
        return own + self.selection(node.selection_set, named, items)

    def _flat(self, selections: SelectionSetNode | None) -> int:
        if selections is None:
            return 0
        return sum(1 + self._flat(getattr(n, "selection_set", None)) for n in selections.selections)


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the operation `operation_name` in a valid `document`."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = _root(schema, operation)
    estimate = _Estimate(schema, document, {**_defaults(operation), **(variables or {})})
    return estimate.selection(operation.selection_set, root, 1)


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType:
    root = schema.get_root_type(operation.operation)
    assert root is not None
    return root


def _defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    return {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }


class QueryCost(SchemaExtension):
    """Refuses, at validation, an operation whose cost is over `max_cost`.

    Runs after `ValidationCache` (or validates itself), so only valid documents are costed.
    """

    def __init__(self, *, max_cost: int = DEFAULT_MAX_COST) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = validate(schema, document, context.validation_rules)
        if document is not None and not context.pre_execution_errors:
            cost = query_cost(schema, document, context.operation_name, context.variables)
            if cost > self.max_cost:
                context.pre_execution_errors = [self._refusal(cost)]
        yield

    def _refusal(self, cost: int) -> GraphQLError:
        error = QueryTooCostlyError(
            f"The query could answer {cost} values, over the budget of {self.max_cost}: "
            "ask for fewer items with `first`, or fewer fields or aliases."
        )
        return GraphQLError(error.message, original_error=error, extensions=error.extensions)
