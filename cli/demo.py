"""Demo data: one ministry (Kominfo), its staff, ~64 ASN and campaigns in every state.

Everything goes through the real services (roster import, content workflow, dispatch,
repost reporting, click tracking), so the demo shows what the product really does.
The random choices are seeded, so every ``gaung demo --reset`` gives the same data.

The campaigns already out were dispatched hours ago: their assignments date from then and
the ASN's reports, clicks and declines follow over minutes to hours, as they would. ASN who
chose Telegram have a linked chat (the sandbox's Telegram accepts it), so with
``gaung serve --sandbox`` every notice of the demo is delivered: Telegram and WhatsApp to
the sandbox page, e-mail to its mail catcher.

``gaung demo`` without ``--reset`` keeps an existing demo: :func:`logins` prints the same
log-ins again with fresh links.
"""

from __future__ import annotations

import csv
import io
import math
import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, Click
from assignments.reporting import decline, report_repost
from assignments.tracking import record_click
from cli.demo_network import DemoTools, seed_network, staff_emails
from content import recurrence, workflow
from content.media import save_image
from content.models import Campaign, CampaignKind, Post
from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.settings import get_settings
from kernel import queue
from roster import enrolment, invitations, recognition, weekly_report
from roster.importer import COLUMNS, import_roster
from roster.models import Agency, Asn, AsnStatus, Invitation, Role, SocialAccount, Unit, User
from roster.security import hash_password, magic_link_url
from scheduler.dispatch import dispatch_post
from scheduler.verify import post_round_key

AGENCY_SLUG = "kominfo"
AGENCY_NAME = "Kementerian Komunikasi dan Informatika"
# Printed by `gaung demo`; only ever set on demo databases.
DEMO_PASSWORD = "gaung-demo-2026"  # noqa: S105
UNITS = (
    "Biro Humas",
    "Direktorat Jenderal Informasi dan Komunikasi Publik",
    "Direktorat Jenderal Aplikasi Informatika",
    "Badan Aksesibilitas Telekomunikasi dan Informasi",
)
STAFF = (
    (Role.ADMIN, "admin", "Rudi Hartono"),
    (Role.EDITOR, "editor", "Dewi Lestari"),
    (Role.EDITOR, "editor2", "Agus Prasetyo"),
    (Role.APPROVER, "approver", "Sri Wahyuni"),
    (Role.SUPERVISOR, "supervisor", "Bambang Sutrisno"),
)
FIRST_NAMES = (
    "Ahmad", "Siti", "Budi", "Dewi", "Eko", "Fitri", "Hendra", "Indah", "Joko", "Kartika",
    "Lukman", "Maya", "Nur", "Putri", "Rahmat", "Ratna", "Slamet", "Tri", "Wahyu", "Yuni",
    "Agus", "Bayu", "Citra", "Dian", "Fajar", "Gita", "Hadi", "Intan", "Kurnia", "Lestari",
    "Made", "Nyoman", "Ketut", "Wayan", "Rizky", "Sari", "Teguh", "Umar", "Vina", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Santoso", "Wijaya", "Saputra", "Pratama", "Hidayat", "Nugroho", "Kusuma", "Setiawan",
    "Rahayu", "Susanti", "Wibowo", "Handayani", "Gunawan", "Permana", "Siregar", "Nasution",
    "Lubis", "Simanjuntak", "Harahap", "Manurung", "Sembiring", "Tambunan", "Pangaribuan",
    "Putra", "Utami", "Purnomo", "Firmansyah", "Ramadhan", "Kurniawan", "Hakim",
)  # fmt: skip
ASN_COUNT = 64
NO_CONSENT = 2
# Typical minutes from a notice to the repost (a log-normal spread around it: most within
# the hour, some the same evening), and the share of ASN who decline, with their reasons.
TYPICAL_REPOST_MINUTES = 40
DECLINE_SHARE = 0.08
DECLINE_REASONS = (
    "Sedang cuti dan tidak membuka media sosial minggu ini.",
    "Akun saya sedang dalam pemulihan setelah diretas.",
    "Topik ini tidak sesuai dengan pengikut akun saya.",
)


@dataclass(frozen=True)
class StaffLogin:
    role: str
    email: str
    name: str


@dataclass
class DemoLogins:
    """What `gaung demo` prints: staff log-ins with the shared password, ASN magic links."""

    password: str
    staff: list[StaffLogin] = field(default_factory=list)
    asn_links: list[tuple[str, str]] = field(default_factory=list)  # (ASN name, URL)
    enrol_url: str = ""  # a self-enrolment invitation link


# --- people ----------------------------------------------------------------------------------


def _staff(session: Session, agency: Agency, password_hash: str) -> dict[str, User]:
    assert agency.id is not None
    users: dict[str, User] = {}
    for role, local, name in STAFF:
        user = User(
            email=f"{local}@kominfo.go.id",
            name=name,
            password_hash=password_hash,
            role=role,
            agency_id=agency.id,
        )
        session.add(user)
        users[local] = user
    session.commit()
    return users


def _person(rng: random.Random, n: int) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    slug = f"{first}{last}".lower()
    # Most accounts clear the 500-follower minimum; every seventh person is below it.
    small = n % 7 == 3

    def followers() -> str:
        return str(rng.randint(80, 480) if small else rng.randint(520, 25000))

    birth = datetime(1975 + n % 20, 1 + n % 12, 1 + n % 28)
    row = {
        # NIP: birth date, recruitment month, sex digit and a sequence number.
        "nip": f"{birth:%Y%m%d}{2000 + n % 20}{1 + n % 12:02d}{1 + n % 2}{n:03d}",
        "name": f"{first} {last}",
        "unit": UNITS[n % len(UNITS)],
        "email": f"{slug}{n}@kominfo.go.id",
        "messenger": ("email", "telegram", "whatsapp")[n % 3],
        "phone": f"+62812{n:08d}",
        "x_handle": f"{slug[:11]}_{n}",
        "x_user_id": str(1_400_000_000_000_000_000 + n * 7919),
        "x_followers": followers(),
        "facebook_handle": f"{first.lower()}.{last.lower()}.{n}",
        "facebook_user_id": str(100_000_000_000_000 + n * 104729),
        "facebook_followers": followers(),
        "consent_at": (utcnow() - timedelta(days=30 + n)).date().isoformat(),
    }
    if n % 4 != 1:  # not everyone is on Instagram
        row |= {
            "instagram_handle": f"{slug}.{n}",
            "instagram_user_id": str(5_000_000_000 + n * 31),
            "instagram_followers": followers(),
        }
    return row


def _roster_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _asn(session: Session, agency: Agency, rng: random.Random) -> list[Asn]:
    rows = [_person(rng, n) for n in range(1, ASN_COUNT + 1)]
    # The last few have not consented yet: they cannot be imported, only registered as pending.
    consenting, pending = rows[:-NO_CONSENT], rows[-NO_CONSENT:]
    import_roster(session, agency, _roster_csv(consenting), create_units=True)
    assert agency.id is not None
    units = {u.name: u.id for u in session.exec(select(Unit).where(Unit.agency_id == agency.id))}
    for row in pending:
        unit_id = units[row["unit"]]
        assert unit_id is not None
        session.add(
            Asn(
                agency_id=agency.id,
                unit_id=unit_id,
                nip=row["nip"],
                name=row["name"],
                email=row["email"],
                status=AsnStatus.PENDING,
            )
        )
    people = list(session.exec(select(Asn).where(Asn.agency_id == agency.id).order_by(col(Asn.id))))
    people[5].status = AsnStatus.SUSPENDED  # e.g. shared a hoax: suspended by the supervisor
    session.add(people[5])
    _settle(session, people)
    return people


def _settle(session: Session, people: list[Asn]) -> None:
    """After an import: accounts checked at enrolment, Telegram chats linked. Commits."""
    # Imported accounts had their ownership checked at enrolment (the form's job, not the CSV's).
    session.execute(
        update(SocialAccount)
        .where(col(SocialAccount.asn_id).in_([p.id for p in people]))
        .values(ownership_verified_at=utcnow() - timedelta(days=20))
    )
    _link_telegram(session, people)
    session.commit()


def _link_telegram(session: Session, people: list[Asn]) -> None:
    """ASN who chose Telegram opened the bot's link once: their chat ids are known.

    In real use channels.telegram_updates learns the id from the ASN's ``/start``; the
    sandbox's Telegram answers any chat, so the demo's notices to these ASN are delivered.
    """
    for asn in people:
        if asn.messenger == "telegram" and asn.id is not None:
            asn.telegram_chat_id = str(700_000_000 + asn.id * 7919)
            session.add(asn)


# --- content ---------------------------------------------------------------------------------


def _infographic(title: str, colour: tuple[int, int, int]) -> str:
    """A plain square "infographic" so the Instagram rendition has its required image."""
    image = Image.new("RGB", (1080, 1080), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 1020, 1020), outline=(255, 255, 255), width=8)
    draw.text((120, 480), title, fill=(255, 255, 255), font_size=48)
    draw.text((120, 960), "kominfo.go.id", fill=(255, 255, 255), font_size=32)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return save_image(buffer.getvalue(), get_settings().media_dir)


@dataclass(frozen=True)
class _Plan:
    title: str
    kind: str
    text: str
    link: str
    hashtags: tuple[str, ...]
    starts_in: timedelta  # from now; negative = already running
    colour: tuple[int, int, int]
    units: tuple[int, ...] = ()  # indexes into UNITS; none = whole agency
    urgent: bool = False


PLANS: dict[str, _Plan] = {
    "draft": _Plan(
        "Literasi Digital untuk UMKM",
        CampaignKind.PROGRAM,
        "Gerakan Nasional Literasi Digital mengajak pelaku UMKM berjualan daring dengan aman. "
        "Ikuti kelas gratisnya di kota Anda.",
        "https://www.kominfo.go.id/literasi-digital",
        ("MakinCakapDigital", "UMKMGoDigital"),
        timedelta(days=5),
        (0, 94, 184),
    ),
    "submitted": _Plan(
        "BTS 4G di Desa 3T",
        CampaignKind.ACHIEVEMENT,
        "Ribuan desa di wilayah 3T kini terhubung sinyal 4G berkat pembangunan BTS oleh BAKTI.",
        "https://www.kominfo.go.id/bts-4g",
        ("SinyalMerataIndonesia",),
        timedelta(days=3),
        (0, 140, 90),
        units=(3,),
    ),
    "rejected": _Plan(
        "Pendaftaran Beasiswa Talenta Digital",
        CampaignKind.ANNOUNCEMENT,
        "Pendaftaran beasiswa Digital Talent Scholarship dibuka! Segera daftar.",
        "https://digitalent.kominfo.go.id",
        ("DigitalTalent",),
        timedelta(days=4),
        (120, 60, 160),
    ),
    "approved": _Plan(
        "Peringatan Hari Kemerdekaan",
        CampaignKind.ANNOUNCEMENT,
        "Mari rayakan Hari Kemerdekaan Republik Indonesia dengan menyebarkan informasi yang "
        "benar dan menyejukkan.",
        "https://www.kominfo.go.id/hut-ri",
        ("DirgahayuRI", "IndonesiaMaju"),
        timedelta(days=2),
        (200, 16, 46),
    ),
    "dispatched": _Plan(
        "Palapa Ring Menyatukan Nusantara",
        CampaignKind.ACHIEVEMENT,
        "Jaringan tulang punggung serat optik Palapa Ring kini menjangkau 57 kabupaten/kota "
        "di seluruh Indonesia.",
        "https://www.kominfo.go.id/palapa-ring",
        ("PalapaRing", "IndonesiaTerhubung"),
        timedelta(hours=-8),
        (0, 94, 184),
    ),
    "withdrawn": _Plan(
        "Uji Coba Layanan Aduan Konten",
        CampaignKind.ANNOUNCEMENT,
        "Layanan aduan konten negatif kini bisa diakses lewat aduankonten.id selama 24 jam.",
        "https://aduankonten.id",
        ("AduanKonten",),
        timedelta(days=1),
        (90, 90, 90),
    ),
    "hoax": _Plan(
        "Klarifikasi: Pesan Berantai Pemblokiran WhatsApp",
        CampaignKind.HOAX_CLARIFICATION,
        "Pesan berantai yang menyebut WhatsApp akan diblokir pemerintah mulai besok adalah "
        "HOAKS. Kominfo tidak pernah mengeluarkan kebijakan tersebut.",
        "https://www.kominfo.go.id/hoaks/whatsapp-diblokir",
        ("LawanHoaks", "CekFakta"),
        timedelta(hours=-2),
        (230, 120, 0),
        urgent=True,
    ),
}


def _campaign(session: Session, author: User, plan: _Plan, unit_ids: list[int]) -> Post:
    start = utcnow() + plan.starts_in
    # The services refuse times in the past; a campaign already running is made from now
    # and then dated back, as if it had been drafted earlier.
    made_at = max(start, utcnow())
    campaign = workflow.create_campaign(
        session,
        author,
        title=plan.title,
        kind=plan.kind,
        starts_at=made_at,
        deadline=start + timedelta(days=2),
        unit_ids=[unit_ids[i] for i in plan.units],
    )
    status = f"{zlib.crc32(plan.title.encode()):010d}"  # a stable official status id
    post = workflow.create_post(
        session,
        author,
        campaign,
        master_text=plan.text,
        link=plan.link,
        hashtags=plan.hashtags,
        platforms=("x", "facebook", "instagram"),
        scheduled_at=made_at,
        urgent=plan.urgent,
        image_path=_infographic(plan.title, plan.colour),
        official_urls={
            "x": f"https://x.com/kemkominfo/status/1{status}",
            "facebook": f"https://www.facebook.com/kemkominfo/posts/1{status}",
            # With the handle: the Graph API finds media by permalink only through its owner.
            "instagram": f"https://www.instagram.com/kemkominfo/p/C{status[:10]}/",
        },
    )
    if made_at != start:
        campaign.starts_at = post.scheduled_at = start
        session.add_all([campaign, post])
        session.commit()
    return post


def _repost_url(platform: str, handle: str, rng: random.Random) -> str:
    number = rng.randint(10**17, 10**18)
    if platform == "x":
        return f"https://x.com/{handle}/status/{number}"
    if platform == "facebook":
        return f"https://www.facebook.com/{handle}/posts/{number}"
    code = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz0123456789", k=11))
    return f"https://www.instagram.com/p/{code}/"


def _go_out(session: Session, post: Post, share: float, rng: random.Random) -> None:
    """Dispatch, then let a share of the ASN report their repost, the public click, a few
    decline; all of it dated after the dispatch, which happened at the post's time."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    assert post.id is not None
    dispatch_post(engine, post.id)
    # The demo's posts went out hours ago, so their first repost search is due now rather
    # than one interval after this dispatch (with `serve --sandbox` it finds reposts at once).
    queue.reschedule(session, post_round_key(post.id, 0), utcnow())
    session.expire_all()
    started = post.scheduled_at or utcnow()
    _backdate_dispatch(session, post, started)
    assignments = session.exec(
        select(Assignment).where(Assignment.post_id == post.id).order_by(col(Assignment.id))
    ).all()
    for assignment in assignments:
        asn = session.get_one(Asn, assignment.asn_id)
        assert assignment.id is not None
        draw = rng.random()
        if draw < share:
            account = session.get_one(SocialAccount, assignment.account_id)
            url = _repost_url(assignment.platform, account.handle, rng)
            reported = report_repost(session, asn, assignment.id, url)
            for _ in range(rng.randint(0, 6)):
                referer = rng.choice((None, f"https://{reported.platform}.com/"))
                record_click(session, reported, referer)
            _spread(session, reported, started, rng)
        elif draw > 1 - DECLINE_SHARE:
            decline(session, asn, assignment.id, rng.choice(DECLINE_REASONS))
    session.commit()


def _backdate_dispatch(session: Session, post: Post, started: datetime) -> None:
    """The post went out at ``started``: so did its assignments (dispatch = their creation)."""
    post.dispatched_at = started
    session.add(post)
    session.execute(
        update(Assignment).where(col(Assignment.post_id) == post.id).values(created_at=started)
    )


def after_dispatch(started: datetime, now: datetime, rng: random.Random) -> datetime:
    """When an ASN reported: minutes to hours after ``started``, never later than ``now``.

    Log-normal around TYPICAL_REPOST_MINUTES, so the median time to repost looks like a
    real campaign's rather than 0 (everything "now") or a flat spread over the day.
    """
    minutes = rng.lognormvariate(math.log(TYPICAL_REPOST_MINUTES), 0.9)
    latest = max((now - started).total_seconds() / 60 - 1, 2.0)
    return started + timedelta(minutes=min(max(minutes, 2.0), latest))


def _spread(
    session: Session, assignment: Assignment, started: datetime, rng: random.Random
) -> None:
    """Date a report (and its clicks, which follow it) after the dispatch.

    While seeding they all happen "now"; spreading them makes the timeline look like a day.
    """
    now = utcnow()
    at = after_dispatch(started, now, rng)
    assignment.reported_at = at
    session.add(assignment)
    session.execute(
        update(Click)
        .where(col(Click.assignment_id) == assignment.id)
        .values(at=min(at + timedelta(minutes=rng.randint(1, 50)), now))
    )


def _content(session: Session, agency: Agency, users: dict[str, User], rng: random.Random) -> None:
    query = select(Unit.id).where(Unit.agency_id == agency.id).order_by(col(Unit.id))
    unit_ids = [u for u in session.exec(query) if u is not None]
    editor, editor2, approver = users["editor"], users["editor2"], users["approver"]
    _repeat_weekly(session, editor, _campaign(session, editor, PLANS["draft"], unit_ids))
    workflow.submit(session, editor2, _campaign(session, editor2, PLANS["submitted"], unit_ids))
    rejected = _campaign(session, editor, PLANS["rejected"], unit_ids)
    workflow.submit(session, editor, rejected)
    workflow.reject(
        session,
        approver,
        rejected,
        "Cantumkan batas waktu pendaftaran dan syarat peserta; hindari kata 'Segera' saja.",
    )
    for key, author, share in (("approved", editor2, 0.0), ("dispatched", editor, 0.6),
                               ("hoax", editor2, 0.35)):  # fmt: skip
        post = _campaign(session, author, PLANS[key], unit_ids)
        workflow.submit(session, author, post)
        workflow.approve(session, approver, post)
        if key != "approved":
            _go_out(session, post, share, rng)
    # Approved, then called off before it went out (the service's address was not final).
    withdrawn = _campaign(session, editor, PLANS["withdrawn"], unit_ids)
    workflow.submit(session, editor, withdrawn)
    workflow.approve(session, approver, withdrawn)
    workflow.withdraw(session, approver, withdrawn)


def _repeat_weekly(session: Session, editor: User, post: Post) -> None:
    """The draft campaign repeats every Monday 09:00 in the agency's zone (calendar, drafts)."""
    campaign = session.get(Campaign, post.campaign_id)
    assert campaign is not None
    zone = get_settings().timezone
    today = utcnow().astimezone(i18n.zone(zone)).date()
    monday = today + timedelta(days=7 - today.weekday())
    rule = recurrence.build_rule(frequency="weekly", weekdays=["MO"], starts_on=monday)
    first_at = recurrence.first_moment(monday, time(9, 0), zone)
    recurrence.set_recurrence(
        session, editor, campaign, rule=rule, first_at=first_at, timezone=zone
    )


def _recognition(session: Session, users: dict[str, User], people: list[Asn]) -> None:
    """Every third active ASN joined the leaderboard; the supervisor gets the weekly report."""
    for asn in people[::3]:
        if asn.status == AsnStatus.ACTIVE:
            recognition.join(session, asn)
    weekly_report.set_subscription(session, users["supervisor"], True)


# --- self-enrolment ------------------------------------------------------------------------

# Two people who enrolled through the invitation link and wait for Humas' review.
ENROLMENTS = (
    ("199203142019032011", "Rina Marlina", {"x": "rina_marlina92", "instagram": "rina.marlina"}),
    ("198811022014021003", "Dimas Anggara", {"x": "dimasanggara", "facebook": "dimas.anggara.88"}),
)


def _enrolments(session: Session, editor: User, people: list[Asn]) -> str:
    """An invitation link and pending self-enrolments, made through roster.enrolment."""
    link = invitations.create_invitation(session, editor, label="Grup WhatsApp Humas")
    for nip, name, handles in ENROLMENTS:
        form = enrolment.EnrolmentForm(
            nip=nip,
            name=name,
            unit_id=people[0].unit_id,
            messenger="email",
            email=f"{name.lower().replace(' ', '.')}@kominfo.go.id",
            handles=handles,
            consent=True,
            consent_version=enrolment.CONSENT_VERSION,
        )
        enrolment.enrol(session, link, form)
    return invitations.invitation_url(link)


# --- entry point -----------------------------------------------------------------------------


def _logins(session: Session, agency: Agency) -> DemoLogins:
    """Staff log-ins and fresh magic links (today's base_url) for the demo agency."""
    logins = DemoLogins(password=DEMO_PASSWORD)
    staff = session.exec(select(User).order_by(col(User.id)))
    # Kominfo's staff, then the network members' (cli.demo_network)
    demo_staff = {f"{local}@kominfo.go.id" for _role, local, _name in STAFF} | staff_emails()
    logins.staff = [StaffLogin(u.role, u.email, u.name) for u in staff if u.email in demo_staff]
    active = session.exec(
        select(Asn)
        .where(Asn.agency_id == agency.id, Asn.status == AsnStatus.ACTIVE)
        .order_by(col(Asn.id))
        .limit(3)
    )
    for asn in active:
        assert asn.id is not None
        logins.asn_links.append((asn.name, magic_link_url(asn.id, asn.login_epoch)))
    return logins


def _open_invitation(session: Session, agency: Agency) -> str:
    """The demo's invitation link; a new one if it was revoked or ran out meanwhile."""
    query = select(Invitation).where(Invitation.agency_id == agency.id)
    for link in session.exec(query.order_by(col(Invitation.id).desc())):
        if invitations.is_open(link):
            return invitations.invitation_url(link)
    editor = session.exec(
        select(User).where(User.agency_id == agency.id, User.email == "editor@kominfo.go.id")
    ).first()
    if editor is None:
        return ""
    link = invitations.create_invitation(session, editor, label="Grup WhatsApp Humas")
    return invitations.invitation_url(link)


def demo_agency(session: Session) -> Agency | None:
    return session.exec(select(Agency).where(Agency.slug == AGENCY_SLUG)).first()


def seed(session: Session) -> DemoLogins:
    """Fill an empty (migrated) database with the demo ministry; commits as it goes."""
    if demo_agency(session) is not None:
        raise GaungError(N_("The demo agency already exists; run `gaung demo --reset`."))
    rng = random.Random(2026)
    agency = Agency(slug=AGENCY_SLUG, name=AGENCY_NAME)
    session.add(agency)
    session.commit()
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
    users = _staff(session, agency, password_hash)
    people = _asn(session, agency, rng)
    _content(session, agency, users, rng)
    _recognition(session, users, people)
    tools = DemoTools(password_hash, _person, _roster_csv, _settle, _go_out)
    seed_network(session, agency, users["approver"], tools, rng)
    enrol_url = _enrolments(session, users["editor"], people)
    found = _logins(session, agency)
    found.enrol_url = enrol_url
    return found


def logins(session: Session) -> DemoLogins | None:
    """The log-ins of an existing demo (links made anew), or None without one. Commits."""
    agency = demo_agency(session)
    if agency is None:
        return None
    found = _logins(session, agency)
    found.enrol_url = _open_invitation(session, agency)
    return found
