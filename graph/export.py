"""`python -m graph.export` prints the schema as SDL (what graph/schema.graphql holds)."""

from graph.schema import schema


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
