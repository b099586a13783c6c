"""ComfyUI entry point of the ColorNet node pack (this repository's root is also the pack's root).

ComfyUI imports this file from ``custom_nodes/<folder>/`` under a module name derived from its path, so the import
below must stay relative. The nodes appear under the "ColorNet" category; see docs/NODES.md.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
