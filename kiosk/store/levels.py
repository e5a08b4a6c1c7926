"""The office's levels: compounds (sites) by their names, grouped into communities, and the
street or district over them all (issue 16), from the office's kiosk.toml.

Ids stay what the events and registry hold; names are only shown. A compound in no configured
community forms a community of its own, so every level always adds up to the district.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.store.settings import ConfigError

LEVELS = ("site", "community", "district")


@dataclass(frozen=True)
class Community:
    id: str
    name: str
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Levels:
    sites: tuple[str, ...]
    names: dict[str, str]
    communities: tuple[Community, ...]
    district: str  # the street's or district's name; '' when not configured

    @classmethod
    def of(cls, config) -> "Levels":
        """From the office configuration (``sites``, ``site_names``, ``communities``, ``district``)."""
        sites = tuple(config.get("sites") or [config["site_id"]])
        grouped: dict[str, str] = {}
        communities = []
        for entry in config.get("communities") or []:
            for site in entry["sites"]:
                if site not in sites:
                    raise ConfigError(code="bad_value", text="levels.not_a_site", where=f"communities {entry['id']}",
                                      site=site)
                if site in grouped:
                    raise ConfigError(code="bad_value", text="levels.two_communities", site=site,
                                      first=grouped[site], second=entry["id"])
                grouped[site] = entry["id"]
            communities.append(Community(entry["id"], entry["name"], tuple(entry["sites"])))
        names = dict(config.get("site_names") or {})
        for site in names:
            if site not in sites:
                raise ConfigError(code="bad_value", text="levels.not_a_site", where="site_names", site=site)
        communities += [Community(site, names.get(site, site), (site,)) for site in sites if site not in grouped]
        return cls(sites, names, tuple(communities), config.get("district") or "")

    def site_name(self, site: str) -> str:
        return self.names.get(site) or site

    def community(self, community_id: str) -> Community | None:
        return next((c for c in self.communities if c.id == community_id), None)

    def community_name(self, community_id: str) -> str:
        found = self.community(community_id)
        return found.name if found else community_id

    def sites_of(self, community_id: str) -> tuple[str, ...]:
        """The compounds of a community; none for an unknown one (it matches nothing)."""
        found = self.community(community_id)
        return found.sites if found else ()
