"""MongoDB access: the only package that imports or calls the database driver."""

from core.errors import register_translations
from storage.errors import TRANSLATIONS

register_translations(TRANSLATIONS)
