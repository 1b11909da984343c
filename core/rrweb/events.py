"""rrweb's numeric enums, with rrweb's own member names (rrweb's `packages/types/src/index.ts`).

Names follow rrweb's TypeScript enums exactly, so code and recordings can be read side by side.
"""

from enum import IntEnum


class EventType(IntEnum):
    DomContentLoaded = 0
    Load = 1
    FullSnapshot = 2
    IncrementalSnapshot = 3
    Meta = 4
    Custom = 5
    Plugin = 6
    Asset = 7
    Annotation = 8


class IncrementalSource(IntEnum):
    Mutation = 0
    MouseMove = 1
    MouseInteraction = 2
    Scroll = 3
    ViewportResize = 4
    Input = 5
    TouchMove = 6
    MediaInteraction = 7
    StyleSheetRule = 8
    CanvasMutation = 9
    Font = 10
    Log = 11
    Drag = 12
    StyleDeclaration = 13
    Selection = 14
    AdoptedStyleSheet = 15
    CustomElement = 16


class MouseInteraction(IntEnum):
    MouseUp = 0
    MouseDown = 1
    Click = 2
    ContextMenu = 3
    DblClick = 4
    Focus = 5
    Blur = 6
    TouchStart = 7
    TouchMove_Departed = 8  # never emitted: touch moves are IncrementalSource.TouchMove
    TouchEnd = 9
    TouchCancel = 10


class NodeType(IntEnum):
    Document = 0
    DocumentType = 1
    Element = 2
    Text = 3
    CDATA = 4
    Comment = 5
