"""Who may see and do what: the only code that knows the organisation's hierarchy.

* A membership in a women's federation or a neighbourhood committee covers the
  region subtree of its unit: a district federation sees its district and below.
* A membership in a department, service provider or institution covers that unit
  and its branches (the units under it in the unit tree); the cases sent to them
  arrive with later issues.
* A volunteer sees only what she is paired with, never the organisation.
* The system administrator and the auditor reach the whole installation.

Every protected record is loaded through a queryset built here; a record outside
it is answered exactly like a missing one (404), so nothing leaks that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from rightscare.org.models import Membership, Region, Unit, UnitFamily, User
from rightscare.org.roles import CAPABILITIES, GLOBAL_ROLES, RESERVED_ROLES, Capability, Role

_CACHE_ATTRIBUTE = "_rightscare_grants"

#: Families whose memberships cover a region subtree rather than a unit subtree.
AREA_FAMILIES = frozenset({UnitFamily.FEDERATION, UnitFamily.COMMITTEE})


@dataclass(frozen=True)
class Grant:
    """One active membership, flattened to what access decisions need."""

    membership_id: int
    unit_id: int
    unit_path: str
    region_path: str
    family: str
    role: Role

    @property
    def capabilities(self) -> frozenset[Capability]:
        return CAPABILITIES[self.role]


def grants_of(user: Any) -> tuple[Grant, ...]:
    """The user's active memberships (cached on the user object for one request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ()
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    rows = (
        Membership.objects.active()
        .filter(user=user, unit__is_active=True)
        .values_list("id", "unit_id", "unit__path", "unit__region__path", "unit__kind__family", "role")
    )
    grants = tuple(Grant(m_id, u_id, u_path, r_path, family, Role(role)) for m_id, u_id, u_path, r_path, family, role in rows)
    setattr(user, _CACHE_ATTRIBUTE, grants)
    return grants


def forget_grants(user: Any) -> None:
    """Drop the cached grants after the user's memberships changed."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def capabilities_of(user: Any) -> frozenset[Capability]:
    """Everything the user may do somewhere."""
    return frozenset().union(*(g.capabilities for g in grants_of(user)))


def has_capability(user: Any, capability: Capability) -> bool:
    """Whether the user may do ``capability`` in at least one of her units."""
    return capability in capabilities_of(user)


def has_global_role(user: Any, *roles: Role) -> bool:
    """Whether the user holds one of ``roles`` (default: any global role)."""
    wanted = frozenset(roles) if roles else GLOBAL_ROLES
    return any(g.role in wanted for g in grants_of(user))


def _prefix_q(field: str, paths: set[str]) -> Q:
    if not paths:
        return Q(pk__in=[])
    return reduce(or_, (Q(**{f"{field}__startswith": p}) for p in sorted(paths)))


def _minimal(paths: set[str]) -> set[str]:
    """Drop paths already covered by a shorter one, so queries stay small."""
    return {p for p in paths if not any(p != q and p.startswith(q) for q in paths)}


def _organisation_grants(user: Any) -> list[Grant]:
    return [g for g in grants_of(user) if Capability.VIEW_ORGANISATION in g.capabilities]


def visible_regions(user: Any) -> QuerySet[Region]:
    """Regions the user may see: the subtrees of her units' regions and their ancestors."""
    grants = _organisation_grants(user)
    if any(g.role in GLOBAL_ROLES for g in grants):
        return Region.objects.all()
    subtree_paths = _minimal({g.region_path for g in grants})
    ancestor_ids = {int(part) for path in subtree_paths for part in path.strip("/").split("/")[:-1] if part}
    return Region.objects.filter(_prefix_q("path", subtree_paths) | Q(pk__in=ancestor_ids))


def sees_region(user: Any, region: Region) -> bool:
    """Whether ``region`` is one of ``visible_regions(user)``, decided from her memberships
    without a query (for a region already loaded, e.g. through ``visible_regions``)."""
    grants = _organisation_grants(user)
    if any(g.role in GLOBAL_ROLES for g in grants):
        return True
    subtree_paths = _minimal({g.region_path for g in grants})
    if any(region.path.startswith(path) for path in subtree_paths):
        return True
    return any(str(region.pk) in path.strip("/").split("/")[:-1] for path in subtree_paths)


def visible_units(user: Any) -> QuerySet[Unit]:
    """Units the user may see: by region subtree for federations, by unit subtree otherwise."""
    grants = _organisation_grants(user)
    if any(g.role in GLOBAL_ROLES for g in grants):
        return Unit.objects.all()
    region_paths = _minimal({g.region_path for g in grants if g.family in AREA_FAMILIES})
    unit_paths = _minimal({g.unit_path for g in grants})
    own_unit_ids = {g.unit_id for g in grants_of(user)}
    return Unit.objects.filter(_prefix_q("region__path", region_paths) | _prefix_q("path", unit_paths) | Q(pk__in=own_unit_ids))


def own_units(user: Any) -> QuerySet[Unit]:
    """The units the user is a member of (whatever her role)."""
    return Unit.objects.filter(pk__in={g.unit_id for g in grants_of(user)})


def manageable_units(user: Any) -> QuerySet[Unit]:
    """Units whose staff and sub-units the user administers: her units' subtrees."""
    grants = [g for g in grants_of(user) if Capability.MANAGE_USERS in g.capabilities]
    if any(g.role == Role.SYSTEM_ADMIN for g in grants):
        return Unit.objects.all()
    return Unit.objects.filter(_prefix_q("path", _minimal({g.unit_path for g in grants})))


def may_manage_regions(user: Any) -> bool:
    return has_capability(user, Capability.MANAGE_REGIONS)


def _covers(grant: Grant, target: Unit | Region) -> bool:
    if isinstance(target, Region):
        return grant.role in GLOBAL_ROLES or (grant.family in AREA_FAMILIES and target.path.startswith(grant.region_path))
    if grant.role in GLOBAL_ROLES or target.path.startswith(grant.unit_path):
        return True
    return grant.family in AREA_FAMILIES and target.region.path.startswith(grant.region_path)


def acting_unit(user: Any, target: Unit | Region | User | None = None, *, capability: Capability | None = None) -> Unit | None:
    """The unit the user acts for on ``target``, for the audit log ("which unit she acted for").

    The first of her memberships that covers the target (a unit, a region, or a
    user through the units she belongs to), preferring those that carry
    ``capability``; otherwise her first unit; None for a user without memberships
    (nobody, at first start).
    """
    grants = grants_of(user)
    if not grants:
        return None
    targets: list[Unit | Region] = []
    if isinstance(target, User):
        targets = list(Unit.objects.filter(memberships__user=target, memberships__revoked_at__isnull=True).select_related("region").order_by("path"))
    elif target is not None:
        targets = [target]
    preferred = [g for g in grants if capability is None or capability in g.capabilities] or list(grants)
    chosen = next((g for g in preferred for t in targets if _covers(g, t)), preferred[0])
    return Unit.objects.filter(pk=chosen.unit_id).first()


def grantable_roles(user: Any, unit: Unit) -> frozenset[Role]:
    """Roles the user may grant in ``unit``: none outside her subtree, never the reserved ones."""
    if has_global_role(user, Role.SYSTEM_ADMIN):
        return frozenset(Role)
    if not manageable_units(user).filter(pk=unit.pk).exists():
        return frozenset()
    return frozenset(Role) - RESERVED_ROLES


def visible_users(user: Any) -> QuerySet[User]:
    """Users the user administers: members of units she manages (everyone for a system administrator)."""
    if has_global_role(user, Role.SYSTEM_ADMIN):
        return User.objects.all()
    if not has_capability(user, Capability.MANAGE_USERS):
        return User.objects.none()
    unit_ids = manageable_units(user).values("pk")
    return User.objects.filter(memberships__unit__in=unit_ids, memberships__revoked_at__isnull=True).distinct()


def access_region(user: Any, pk: int) -> Region:
    """Fetch a region the user may see, or raise 404."""
    try:
        return visible_regions(user).get(pk=pk)
    except (Region.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_unit(user: Any, pk: int) -> Unit:
    """Fetch a unit the user may see, or raise 404."""
    try:
        return visible_units(user).select_related("kind", "region", "parent").get(pk=pk)
    except (Unit.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


def access_managed_user(user: Any, pk: int) -> User:
    """Fetch a user the user administers, or raise 404."""
    try:
        return visible_users(user).get(pk=pk)
    except (User.DoesNotExist, ValueError, TypeError) as error:
        raise Http404 from error


# --- cases ----------------------------------------------------------------------------

#: Capabilities that open case files: intake, dispatch, handling, supervision, call-backs.
CASE_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES, Capability.HANDLE_WORK_ORDERS, Capability.SUPERVISE, Capability.TAKE_RATINGS}
)


@dataclass(frozen=True)
class CaseScope:
    """Which cases a user reaches, in terms other apps turn into queries.

    * ``region_paths``: cases located in these region subtrees (federations and
      neighbourhood committees cover their area);
    * ``unit_paths``: cases with a work order to a unit in these unit subtrees (every
      unit covers what was sent to it and its branches);
    * ``unit_ids``: her own units (cases they registered are theirs too; and a case
      accusing one of them is never shown — see ``all_unit_ids``).
    """

    region_paths: frozenset[str]
    unit_paths: frozenset[str]
    unit_ids: frozenset[int]
    all_unit_ids: frozenset[int]

    @property
    def empty(self) -> bool:
        return not (self.region_paths or self.unit_paths or self.unit_ids)


def case_scope(user: Any, capabilities: frozenset[Capability] = CASE_CAPABILITIES) -> CaseScope:
    """The cases the user reaches through memberships that carry one of ``capabilities``."""
    grants = [g for g in grants_of(user) if g.capabilities & capabilities]
    return CaseScope(
        region_paths=frozenset(_minimal({g.region_path for g in grants if g.family in AREA_FAMILIES})),
        unit_paths=frozenset(_minimal({g.unit_path for g in grants})),
        unit_ids=frozenset(g.unit_id for g in grants),
        all_unit_ids=frozenset(g.unit_id for g in grants_of(user)),
    )


def path_prefix_q(field: str, paths: frozenset[str] | set[str]) -> Q:
    """Rows whose materialised path ``field`` lies in one of the subtrees ``paths``."""
    return _prefix_q(field, set(paths))


def covers_region(user: Any, region: Region, capabilities: frozenset[Capability] = CASE_CAPABILITIES) -> bool:
    """Whether one of her area memberships (federation, committee) covers ``region``."""
    return any(region.path.startswith(path) for path in case_scope(user, capabilities).region_paths)


def member_of_any(user: Any, unit_ids: set[int] | frozenset[int], capabilities: frozenset[Capability] = CASE_CAPABILITIES) -> bool:
    """Whether she holds a membership with one of ``capabilities`` in one of ``unit_ids``."""
    return any(g.unit_id in unit_ids for g in grants_of(user) if g.capabilities & capabilities)


def units_with_capability(user: Any, capability: Capability) -> QuerySet[Unit]:
    """Her units in which she may do ``capability`` (e.g. the units she may dispatch for)."""
    return Unit.objects.filter(pk__in={g.unit_id for g in grants_of(user) if capability in g.capabilities}, is_active=True)


def dispatch_targets(user: Any, dispatching_unit: Unit) -> QuerySet[Unit]:
    """Units a dispatcher of ``dispatching_unit`` may send work to.

    Her own unit (to lead it herself), down her region subtree (any level, so straight
    to the lowest competent one), and across to the departments and other units
    attached to her region or below. Sideways transfers to a peer go through
    ``transfer_targets`` instead.
    """
    if not any(g.unit_id == dispatching_unit.pk and Capability.DISPATCH_CASES in g.capabilities for g in grants_of(user)):
        return Unit.objects.none()
    return Unit.objects.filter(region__path__startswith=dispatching_unit.region.path, is_active=True)


def transfer_targets(user: Any, dispatching_unit: Unit) -> QuerySet[Unit]:
    """Peer units of the same kind under the common parent unit (Longhua → Guangming federation)."""
    if not any(g.unit_id == dispatching_unit.pk and Capability.DISPATCH_CASES in g.capabilities for g in grants_of(user)):
        return Unit.objects.none()
    if dispatching_unit.parent_id is None:
        return Unit.objects.none()
    return Unit.objects.filter(parent_id=dispatching_unit.parent_id, kind_id=dispatching_unit.kind_id, is_active=True).exclude(pk=dispatching_unit.pk)
