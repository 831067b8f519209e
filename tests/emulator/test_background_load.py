"""The other consumer and the daily quota inside the limiter, on a fake clock: exact counts at exact moments."""

from __future__ import annotations

import pytest

from rest_client.emulator import Deployment, Emulator
from rest_client.emulator.background import TOKEN_ONLY_SENDS, plan_for
from rest_client.emulator.ratelimit import DAY, RateLimiter

from .test_rate_limits import FakeClock

SIXTY = Deployment("d", "gpt-4o-mini", rpm=60, tpm=60_000)  # 60 requests and 60,000 tokens per 60 s window


def limiter_at(share: float = 0.0, daily_quota: int | None = None) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(clock, background_load=share, daily_quota=daily_quota), clock


def left(limiter: RateLimiter, deployment: Deployment = SIXTY) -> tuple[int | None, int | None]:
    decision = limiter.remaining(deployment)
    return decision.remaining_requests, decision.remaining_tokens


class TestTheOtherConsumer:
    def test_it_has_spent_its_share_when_first_seen_and_keeps_spending_it_steadily(self) -> None:
        limiter, clock = limiter_at(0.5)
        seen = []
        for _ in range(181):  # three windows, second by second
            seen.append(left(limiter))
            clock.now += 1
        assert set(seen) == {(30, 30_000)}  # one send arrives each time one leaves: always half the budget

    def test_without_it_the_whole_budget_is_left(self) -> None:
        limiter, _ = limiter_at(0.0)
        assert left(limiter) == (60, 60_000)

    def test_when_it_goes_its_sends_leave_one_by_one_over_a_window(self) -> None:
        """Spread over the window, not spent at its start: what it sent drains evenly once it is gone."""
        limiter, clock = limiter_at(0.5)
        assert left(limiter) == (30, 30_000)
        limiter.background_load = 0.0
        drained = []
        for _ in range(31):
            drained.append(left(limiter)[0])
            clock.now += 2  # one send every 60 s / 30 sends
        assert drained == list(range(30, 61))

    def test_it_can_come_mid_run_and_takes_only_what_fits(self) -> None:
        limiter, clock = limiter_at(0.0)
        for _ in range(50):
            assert limiter.admit(SIXTY, 10).allowed
        clock.now += 1
        limiter.background_load = 0.5  # a window's worth (30 sends) arrives; 10 fit beside the client's 50
        assert left(limiter) == (0, 60_000 - 500 - 10 * 1000)
        assert not limiter.admit(SIXTY, 10).allowed

    def test_a_client_assuming_the_whole_budget_gets_half_and_then_429s(self) -> None:
        limiter, clock = limiter_at(0.5)
        answers = [limiter.admit(SIXTY, 10) for _ in range(60)]
        assert [a.allowed for a in answers] == [True] * 30 + [False] * 30
        assert answers[0].remaining_requests == 29  # its own one send cannot explain 31 gone
        assert answers[30].retry_after == 2.0  # the neighbour's oldest send leaves in 2 s
        clock.now += 2
        # ... and at that moment the neighbour's next send takes the freed slot: it asks as often as slots free
        assert not limiter.admit(SIXTY, 10).allowed

    def test_its_share_of_tokens_is_spread_over_its_sends(self) -> None:
        deployment = Deployment("d", "gpt-4o-mini", rpm=10, tpm=1000)  # 3 sends of 100 tokens at share 0.3
        limiter, clock = limiter_at(0.3)
        assert plan_for(0.3, 60.0, 10, 1000).sends == 3
        seen = set()
        for _ in range(120):
            seen.add(left(limiter, deployment))
            clock.now += 1
        assert seen == {(7, 700)}

    def test_a_share_of_less_than_one_request_still_spends_its_tokens(self) -> None:
        deployment = Deployment("d", "gpt-4o-mini", rpm=1, tpm=6000)
        limiter, clock = limiter_at(0.5)
        assert plan_for(0.5, 60.0, 1, 6000).sends == TOKEN_ONLY_SENDS
        for _ in range(90):
            assert left(limiter, deployment) == (1, 3000)
            clock.now += 1

    def test_a_deployment_can_have_its_own_share(self) -> None:
        limiter, _ = limiter_at(0.5)
        quarter = Deployment("quarter", "gpt-4o-mini", rpm=60, background_load=0.25)
        alone = Deployment("alone", "gpt-4o-mini", rpm=60, background_load=0.0)
        assert [left(limiter, d)[0] for d in (SIXTY, quarter, alone)] == [30, 45, 60]
        limiter.background_load = 0.0  # the emulator's share goes; the deployment's own stays
        assert left(limiter, quarter)[0] == 45

    def test_a_new_share_takes_effect_now_without_a_second_back_fill(self) -> None:
        limiter, clock = limiter_at(0.5)
        assert left(limiter)[0] == 30
        limiter.background_load = 0.25  # 15 sends a window from now on, every 4 s
        assert left(limiter)[0] == 30  # what was sent stays counted
        clock.now += 60
        assert left(limiter)[0] == 45

    def test_reset_forgets_its_sends_but_it_arrives_again(self) -> None:
        limiter, _ = limiter_at(0.5)
        limiter.admit(SIXTY, 10)
        limiter.reset()
        assert left(limiter) == (30, 30_000)

    def test_unlimited_deployments_have_no_neighbour_to_see(self) -> None:
        limiter, _ = limiter_at(0.5)
        assert left(limiter, Deployment("free", "gpt-4o-mini")) == (None, None)

    @pytest.mark.parametrize("share", [1, 1.0, -0.1, True, "0.5", float("nan")])
    def test_a_share_is_at_least_0_and_below_1(self, share: object) -> None:
        with pytest.raises(ValueError, match="background_load must be a share"):
            RateLimiter(background_load=share)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="background_load must be a share"):
            Deployment("d", "gpt-4o-mini", background_load=share)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="background_load must be a share"):
            Emulator(background_load=share)  # type: ignore[arg-type]
        assert Deployment("d", "gpt-4o-mini", background_load=None).background_load is None  # the emulator's


class TestTheDailyQuota:
    def test_after_n_admitted_requests_every_call_is_refused_for_a_day_and_charges_nothing(self) -> None:
        limiter, _ = limiter_at(daily_quota=2)
        assert [limiter.admit(SIXTY, 10).allowed for _ in range(2)] == [True, True]
        refused = limiter.admit(SIXTY, 10)
        assert (refused.allowed, refused.retry_after, refused.daily_quota_spent, refused.tokens_exceeded) == (
            False, DAY, True, False)
        assert refused.remaining_requests == 58  # the refused call was not counted in the window
        assert limiter.answered() == {"d": 2}

    def test_only_the_clients_answers_count_and_rate_limited_ones_do_not(self) -> None:
        limiter, _ = limiter_at(0.5, daily_quota=31)
        answers = [limiter.admit(SIXTY, 10) for _ in range(31)]  # 30 fit beside the neighbour, 1 is a 429
        assert [a.allowed for a in answers].count(True) == 30 and limiter.answered() == {"d": 30}
        assert not answers[-1].daily_quota_spent

    def test_reset_gives_the_quota_back_per_deployment_or_for_all(self) -> None:
        limiter, _ = limiter_at(daily_quota=1)
        other = Deployment("e", "gpt-4o-mini")  # unlimited per minute, still under the daily quota
        for deployment in (SIXTY, other):
            assert limiter.admit(deployment, 10).allowed and not limiter.admit(deployment, 10).allowed
        limiter.reset_daily_quota("e")
        assert limiter.admit(other, 10).allowed and not limiter.admit(SIXTY, 10).allowed
        limiter.reset_daily_quota()
        assert limiter.admit(SIXTY, 10).allowed

    def test_a_deployment_can_have_its_own_quota_and_zero_means_spent(self) -> None:
        limiter, _ = limiter_at(daily_quota=None)
        spent = Deployment("spent", "gpt-4o-mini", rpm=60, daily_quota=0)
        assert limiter.admit(SIXTY, 10).allowed
        assert limiter.admit(spent, 10).daily_quota_spent

    @pytest.mark.parametrize("quota", [-1, 1.5, True, "12"])
    def test_a_quota_is_a_whole_number_of_requests(self, quota: object) -> None:
        with pytest.raises(ValueError, match="daily_quota must be a whole number"):
            RateLimiter(daily_quota=quota)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="daily_quota must be a whole number"):
            Deployment("d", "gpt-4o-mini", daily_quota=quota)  # type: ignore[arg-type]
