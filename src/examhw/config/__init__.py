"""Site configuration (TOML): roles mapped to kind, driver, URL, options, secrets."""
from .load import load_site, parse_site
from .model import DeviceConfig, SiteConfig
from .secrets import resolve_secrets
from .validate import validate_site

__all__ = ["DeviceConfig", "SiteConfig", "load_site", "parse_site", "resolve_secrets", "validate_site"]
