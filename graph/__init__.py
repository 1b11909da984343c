"""The GraphQL API: types, resolvers, permissions and the schema they make."""
