"""The sales organisation: people, teams, seats, ramp and attrition.

The org is built from seats. Head count grows a fixed rate a year, so new seats open over
time; each seat belongs to a team that sells into one segment. A seat is held by a chain
of reps: each stays an exponential time (the annual attrition rate), leaves, and is
backfilled after a lag, during which the seat is empty. Reps ramp 25/50/75/100% over their
first four quarters. Managers lead teams of 5-10 reps and report to the VP Sales, who
reports to the CEO. The people loop runs once per seat (thousands at most), not per deal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quarterdeck.simulate.timeline import Timeline

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
ROLES = ("CEO", "VP Sales", "Sales Manager", "Account Executive", "Sales Operations Analyst")
CEO, VP, MANAGER, REP, OPS = range(5)
NEVER = np.iinfo(np.int32).max

SEAT_SHARE = np.array([0.45, 0.35, 0.20])  # of reps per segment
NEW_DEALS_PER_REP_YEAR = np.array([110.0, 45.0, 16.0])  # fully ramped, per segment
HEADCOUNT_GROWTH = 0.35  # a year
ANNUAL_ATTRITION = 0.30
BACKFILL_LAG_DAYS = (30, 90)
TEAM_TARGET_SIZE = 8
RAMP_DAYS = 91  # one quarter per ramp step

_TEAM_NAMES = (
    "Alpha", "Bravo", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris",
    "Juniper", "Kestrel", "Lumen", "Meridian", "Nova", "Orion", "Pioneer", "Quartz", "Ridge",
    "Summit", "Tidal", "Union", "Vertex", "Willow", "Zenith",
)  # fmt: skip
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Henry", "Harper", "Theo", "Evelyn", "Jack", "Aria", "Levi",
    "Priya", "Arjun", "Mei", "Wei", "Fatima", "Omar", "Sofia", "Diego", "Chloe", "Samuel",
    "Grace", "Daniel", "Zoe", "Ethan", "Nora", "Owen", "Leah", "Caleb", "Ines", "Yusuf",
    "Hannah", "Kenji", "Aiko", "Lars", "Freya", "Marco", "Giulia", "Tomas", "Ana", "Kwame",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez",
    "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King",
    "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
    "Patel", "Shah", "Chen", "Wang", "Kim", "Nguyen", "Okafor", "Mensah", "Rossi", "Novak",
    "Schmidt", "Dubois", "Silva", "Tanaka",
)  # fmt: skip


@dataclass(frozen=True)
class Org:
    """Everyone in the export's User table, plus the seat map used to route work.

    User arrays are indexed by user number (the row in User.csv). Rep-only attributes are
    zero for other roles. Day numbers count from the first day of the history; hire dates
    before the history are negative and `end` is NEVER for people still employed.
    """

    role: np.ndarray  # int8, index into ROLES
    team: np.ndarray  # int32 team number, -1 outside sales teams
    manager: np.ndarray  # int32 user number of the manager, -1 for the CEO
    hire: np.ndarray  # int32 day
    end: np.ndarray  # int32 day of leaving, NEVER if still employed
    first_name: np.ndarray  # int32 index into FIRST_NAMES
    last_name: np.ndarray  # int32 index into LAST_NAMES
    seat: np.ndarray  # int32 seat held by a rep, -1 otherwise
    skill: np.ndarray  # float64 rep's shift of the win log-odds
    slip_tendency: np.ndarray  # float64 share of a rep's deals that slip quarter after quarter
    activity_style: np.ndarray  # float64 multiplier on a rep's outbound activity
    team_segment: np.ndarray  # int8 per team
    team_manager: np.ndarray  # int32 user number per team
    team_names: tuple[str, ...]
    seat_team: np.ndarray  # int32 per seat
    occupant: np.ndarray  # int32 [seat, day]: rep user number holding the seat, -1 when empty
    ceo: int
    vp: int

    @property
    def users(self) -> int:
        """Number of users."""
        return int(self.role.shape[0])

    def reps(self) -> np.ndarray:
        """User numbers of all reps (Account Executives), past and present."""
        return np.flatnonzero(self.role == REP)

    def productivity(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        """Reps and their [rep, day] productivity: ramp share while employed, else 0."""
        reps = self.reps()
        day = np.arange(days, dtype=np.int64)[None, :]
        tenure = day - self.hire[reps, None]
        ramp = np.minimum(1.0, (tenure // RAMP_DAYS + 1) * 0.25)
        active = (tenure >= 0) & (day <= self.end[reps, None])
        return reps, np.where(active, ramp, 0.0)

    def owner_at(self, seat: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Who works a seat's accounts on a day: its rep, else a teammate, else the manager.

        Empty seats (between a leaver and the backfill) are covered by a random teammate so
        that no work lands on someone who has left.
        """
        seats = np.asarray(seat, dtype=np.int64)
        days = np.clip(np.asarray(day, dtype=np.int64), 0, self.occupant.shape[1] - 1)
        owner = self.occupant[seats, days].astype(np.int64)
        team = self.seat_team[seats]
        team_seats = [np.flatnonzero(self.seat_team == t) for t in range(len(self.team_names))]
        sizes = np.array([s.size for s in team_seats])
        size = sizes[team]
        # Seats of one team are not contiguous, so walk the team's seat list by position.
        order = np.concatenate(team_seats)
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])[team]
        pos_in_team = _position_in_team(seats, team_seats, self.seat_team)
        start = rng.integers(1, np.maximum(size, 2))
        for k in range(int(size.max(initial=1))):
            missing = owner < 0
            if not missing.any():
                break
            other = order[offset + (pos_in_team + start + k) % size]
            candidate = self.occupant[other, days]
            owner = np.where(missing & (k < size - 1), candidate, owner)
        return np.where(owner < 0, self.team_manager[team], owner).astype(np.int32)


def _position_in_team(
    seats: np.ndarray, team_seats: list[np.ndarray], seat_team: np.ndarray
) -> np.ndarray:
    """Index of each seat within its team's seat list."""
    pos = np.zeros(seat_team.shape[0], dtype=np.int64)
    for members in team_seats:
        pos[members] = np.arange(members.size)
    return pos[seats]


def build_org(new_deals: float, timeline: Timeline, rng: np.random.Generator) -> Org:
    """Size and staff an org that can produce about `new_deals` new-business deals."""
    days = timeline.days
    years = days / 365.25
    growth = np.log1p(HEADCOUNT_GROWTH)
    mean_size = (1 - np.exp(-growth * years)) / (growth * years)  # average/final head count
    per_rep_year = float(SEAT_SHARE @ NEW_DEALS_PER_REP_YEAR) * 0.8  # ramp and vacancy
    final_reps = new_deals / (per_rep_year * years * mean_size)

    seat_segment: list[int] = []
    seat_open: list[int] = []
    seat_team: list[int] = []
    team_segment: list[int] = []
    for segment in range(len(SEGMENTS)):
        seats = max(5, round(final_reps * SEAT_SHARE[segment]))
        teams = max(1, int(np.ceil(seats / TEAM_TARGET_SIZE)))
        first_team = len(team_segment)
        team_segment.extend([segment] * teams)
        for k in range(seats):
            # Seat k exists once the segment's head count, growing exponentially to `seats`
            # by the export date, reaches k + 1.
            opens = days - np.log(seats / (k + 1)) / growth * 365.25
            seat_segment.append(segment)
            seat_open.append(int(np.floor(opens)))
            seat_team.append(first_team + k % teams)

    n_teams = len(team_segment)
    hazard = -np.log1p(-ANNUAL_ATTRITION) / 365.25
    reps: list[tuple[int, int, int]] = []  # seat, hire, end
    for seat, opens in enumerate(seat_open):
        hire = opens if opens > 0 else -int(rng.integers(0, 3 * 365))
        while hire < days:
            stay = int(rng.exponential(1 / hazard))
            end = max(hire, 0) + stay
            reps.append((seat, hire, end if end < days else int(NEVER)))
            if end >= days:
                break
            hire = end + int(rng.integers(*BACKFILL_LAG_DAYS))

    team_open = np.full(n_teams, days, dtype=np.int64)
    for seat, opens in enumerate(seat_open):
        team_open[seat_team[seat]] = min(team_open[seat_team[seat]], opens)

    n_ops = max(1, round(final_reps / 40))
    n_users = 2 + n_teams + n_ops + len(reps)
    role = np.empty(n_users, dtype=np.int8)
    team = np.full(n_users, -1, dtype=np.int32)
    manager = np.full(n_users, -1, dtype=np.int32)
    hire_day = np.empty(n_users, dtype=np.int32)
    end_day = np.full(n_users, NEVER, dtype=np.int32)
    seat_of = np.full(n_users, -1, dtype=np.int32)

    role[0], hire_day[0] = CEO, -int(rng.integers(4 * 365, 8 * 365))
    role[1], hire_day[1], manager[1] = VP, -int(rng.integers(365, 3 * 365)), 0
    managers = np.arange(2, 2 + n_teams)
    role[managers] = MANAGER
    team[managers] = np.arange(n_teams)
    manager[managers] = 1
    hire_day[managers] = np.minimum(team_open, days) - rng.integers(20, 60, n_teams)
    ops = np.arange(2 + n_teams, 2 + n_teams + n_ops)
    role[ops] = OPS
    manager[ops] = 1
    hire_day[ops] = np.sort(rng.integers(-365, days - 30, n_ops))
    rep_users = np.arange(2 + n_teams + n_ops, n_users)
    rep_arr = np.array(reps, dtype=np.int64).reshape(-1, 3)
    role[rep_users] = REP
    seat_of[rep_users] = rep_arr[:, 0]
    team[rep_users] = np.asarray(seat_team)[rep_arr[:, 0]]
    manager[rep_users] = managers[team[rep_users]]
    hire_day[rep_users] = rep_arr[:, 1]
    end_day[rep_users] = rep_arr[:, 2]

    is_rep = role == REP
    skill = np.where(is_rep, rng.normal(0.0, 0.35, n_users), 0.0)
    slip = np.where(is_rep, rng.beta(1.5, 9.0, n_users), 0.0)
    style = np.where(is_rep, rng.lognormal(0.0, 0.4, n_users), 0.0)

    occupant = np.full((len(seat_open), days), -1, dtype=np.int32)
    for user in rep_users:
        last = days - 1 if end_day[user] == NEVER else int(end_day[user])
        occupant[seat_of[user], max(0, int(hire_day[user])) : last + 1] = user

    names = tuple(
        f"{SEGMENTS[s]} {_TEAM_NAMES[i % len(_TEAM_NAMES)]}"
        + (f" {i // len(_TEAM_NAMES) + 1}" if i >= len(_TEAM_NAMES) else "")
        for i, s in enumerate(team_segment)
    )
    return Org(
        role=role,
        team=team,
        manager=manager,
        hire=hire_day,
        end=end_day,
        first_name=rng.integers(0, len(FIRST_NAMES), n_users).astype(np.int32),
        last_name=rng.integers(0, len(LAST_NAMES), n_users).astype(np.int32),
        seat=seat_of,
        skill=skill,
        slip_tendency=slip,
        activity_style=style,
        team_segment=np.asarray(team_segment, dtype=np.int8),
        team_manager=managers.astype(np.int32),
        team_names=names,
        seat_team=np.asarray(seat_team, dtype=np.int32),
        occupant=occupant,
        ceo=0,
        vp=1,
    )
