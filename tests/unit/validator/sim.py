"""A simulated account on one host feeding frames through decode_event + judge, keeping state.

Events come from `tools.netsim.repo.SimRepo` (real MSTs, real signatures, sync v1.1 proofs), so
good and broken events are exactly what the network simulator sends to the whole relay.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace

from relay_core.firehose.frames import encode_frame
from relay_core.key_history import KeyPeriod
from relay_core.syntax.did import Did
from relay_validator.account_state import AccountState
from relay_validator.decode import decode_event
from relay_validator.identity import AccountIdentity, IdentityFailure
from relay_validator.judge import Context, judge
from relay_validator.verdict import Accept, Drop, Verdict

from tools.netsim.plc_directory import derive_account
from tools.netsim.repo import PreparedEvent, RevClock, Signer, SimRepo

HOST = "pds.test"


def new_repo(index: int, *, seed: str = "unit") -> tuple[SimRepo, AccountIdentity]:
    account = derive_account(seed, index, (f"https://{HOST}",))
    repo = SimRepo(
        index=index,
        did=Did(account.did),
        handle=account.handle,
        signer=Signer(account.signing_key.to_bytes()),
        signing_key=account.signing_key.public_key.did_key(),
    )
    identity = AccountIdentity(
        did=Did(account.did),
        signing_key=account.signing_key.public_key,
        pds_host=HOST,
        handle=account.handle,
        handle_verified=True,
        resolved_at_us=0,
        # As after a KeyHistory lookup: the DID never had another key.
        key_history=(KeyPeriod(account.signing_key.public_key, 0, None),),
    )
    return repo, identity


@dataclass
class Driver:
    """Sequences a repo's events as its host would and judges them, applying each verdict's state."""

    repo: SimRepo
    identity: AccountIdentity | IdentityFailure | None
    host: str = HOST
    state: AccountState | None = None
    seq: int = 0
    clock: RevClock = field(default_factory=RevClock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def frame(self, event: PreparedEvent) -> bytes:
        self.seq += 1
        return encode_frame(event.type, {**event.body, "seq": self.seq})

    def judge_frame(
        self,
        frame: bytes,
        *,
        fresh: bool = True,
        room: bool = True,
        redelivered: bool = False,
        now_us: int | None = None,
    ) -> Verdict:
        event = decode_event(frame)
        if isinstance(event, Drop):
            return event
        verdict = judge(
            event,
            Context(
                host=self.host,
                frame=frame,
                state=self.state,
                identity=self.identity,
                identity_fresh=fresh,
                host_has_room=room,
                now_us=now_us if now_us is not None else int(time.time() * 1_000_000),
                redelivered=redelivered,
            ),
        )
        if isinstance(verdict, Accept | Drop) and verdict.state is not None:
            self.state = verdict.state
        return verdict

    def send(self, event: PreparedEvent, **kwargs: bool) -> Verdict:
        return self.judge_frame(self.frame(event), **kwargs)

    def genesis(self) -> list[Verdict]:
        return [self.send(e) for e in self.repo.genesis(self.clock)]

    def mutate(self, **kwargs: object) -> PreparedEvent:
        return self.repo.mutate(self.rng, self.clock, **kwargs)  # type: ignore[arg-type]

    def set_state(self, **changes: object) -> None:
        assert self.state is not None
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
