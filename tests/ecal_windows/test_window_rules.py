"""Each rule of the window algorithm (spec §5.1, §6, §9) on small hand-built events."""

from __future__ import annotations

import hashlib
import math

import awkward as ak
import numpy as np
import pytest
from builders import build, calo, cluster, event, flat_wp, step_wp

from include.ecal_windows.config import WindowConfig
from include.ecal_windows.windows import compute_windows


def run(events, wp=None, **cfg):
    result = compute_windows(build(events), WindowConfig(**cfg), wp or flat_wp(0.1))
    return result.records.to_list(), {k: v.tolist() for k, v in result.meta.items()}


def seeds(windows) -> list[int]:
    return [next(c["cl_index"] for c in w["clusters"] if c["is_seed"]) for w in windows]


def by_index(window) -> dict[int, dict]:
    return {c["cl_index"]: c for c in window["clusters"]}


# -- seeding --------------------------------------------------------------------------------


def test_seed_threshold_uses_calibrated_et_inclusive() -> None:
    clusters = [
        cluster(0.0, 0.0, 0.98, calib_factor=1.05, scores=[0.9]),  # calibrated Et 1.029: seed
        cluster(0.0, 1.5, 1.02, calib_factor=0.95, scores=[0.9]),  # calibrated Et 0.969: not
        cluster(0.0, -1.5, 1.0, calib_factor=1.0, scores=[0.9]),  # exactly 1.0: seed
    ]
    windows, _ = run([event(clusters, [calo(0.0, 0.0)])], maxnocalow=5)
    assert sorted(seeds(windows)) == [0, 2]
    windows, _ = run([event(clusters, [calo(0.0, 0.0)])], maxnocalow=5, min_et_seed=1.01)
    assert seeds(windows) == [0]


def test_windows_follow_calibrated_et_order() -> None:
    clusters = [
        cluster(0.0, 0.0, 10.0, calib_factor=1.0, scores=[0.6]),
        cluster(0.0, 1.0, 9.8, calib_factor=1.1, scores=[0.0, 0.6]),  # calibrated 10.78: first
    ]
    windows, _ = run([event(clusters, [calo(0.0, 0.0), calo(0.0, 1.0)])])
    assert seeds(windows) == [1, 0]


def chain_event():
    # A holds B, B would hold C, A does not hold C
    return event(
        [
            cluster(0.0, 0.0, 30.0, scores=[0.9]),
            cluster(0.09, 0.0, 20.0, scores=[0.05]),
            cluster(0.17, 0.0, 10.0, scores=[0.04]),
        ],
        [calo(0.0, 0.0)],
    )


def test_non_overlap_skips_seeds_inside_existing_windows() -> None:
    windows, meta = run([chain_event()], maxnocalow=5)
    assert seeds(windows) == [0, 2]  # B skipped; C is outside A's window (B made none)
    assert meta["n_seeds_in_other_window"] == [1]
    assert [c["cl_index"] for c in windows[0]["clusters"]] == [0, 1]
    assert [c["cl_index"] for c in windows[1]["clusters"]] == [1, 2]  # clusters join every window


def test_overlap_creates_every_window_and_counts_seeds_in_other_windows() -> None:
    windows, meta = run([chain_event()], overlap=True, maxnocalow=5)
    assert seeds(windows) == [0, 1, 2]
    assert meta["n_seeds_in_other_window"] == [2]
    assert [w["ncls"] for w in windows] == [2, 3, 2]


# -- association and matching ---------------------------------------------------------------


def test_association_ties_and_strict_minimum() -> None:
    clusters = [
        cluster(0.0, 0.0, 20.0, scores=[0.3, 0.3]),  # tie: lowest calo index
        cluster(0.02, 0.0, 2.0, scores=[1e-4, 0.0]),  # not > 1e-4: no calo
        cluster(0.03, 0.0, 1.5, scores=[1.1e-4, 0.0]),
    ]
    windows, _ = run([event(clusters, [calo(0.0, 0.0), calo(0.0, 0.02)])], wp=flat_wp(1e-4))
    (w,) = windows
    assert w["calo_index"] == 0 and w["seed_score"] == 0.3
    cl = by_index(w)
    assert cl[1]["calo_score"] == -1.0 and not cl[1]["is_calo_matched"] and not cl[1]["in_scluster"]
    assert cl[2]["calo_score"] == 1.1e-4 and cl[2]["is_calo_matched"] and cl[2]["in_scluster"]


def test_seed_needs_more_than_seed_min_fraction() -> None:
    ev = [
        event([cluster(0.0, 0.0, 20.0, scores=[0.01])], [calo(0.0, 0.0)], event_id=1),
        event([cluster(0.0, 0.0, 20.0, scores=[0.0101])], [calo(0.0, 0.0)], event_id=2),
    ]
    windows, meta = run(ev, maxnocalow=3)
    assert [w["is_seed_calo_matched"] for w in windows] == [False, True]
    assert windows[0]["calo_index"] == -1 and windows[0]["seed_score"] == 0.01
    assert meta["n_seeds_good"] == [0, 1] and meta["n_windows_nomatched"] == [1, 0]


def test_gen_position_check_readme_vs_legacy_and_v2_v3() -> None:
    # seed at eta 2.0, calo generated 0.15 inwards: inside the v3 window, outside the v2 window
    ev = [event([cluster(2.0, 0.0, 20.0, scores=[0.8])], [calo(1.85, 0.0)])]
    v3, meta3 = run(ev, maxnocalow=1)
    v2, meta2 = run(ev, maxnocalow=1, window_version="v2")
    legacy, meta_l = run(ev, maxnocalow=1, window_version="v2", seed_gen_check="legacy")
    assert v3[0]["is_seed_calo_matched"] and meta3["n_seeds_bad_calo_position"] == [0]
    assert not v2[0]["is_seed_calo_matched"] and v2[0]["calo_index"] == -1
    assert meta2["n_seeds_bad_calo_position"] == [1] and meta2["n_windows_nomatched"] == [1]
    assert legacy[0]["is_seed_calo_matched"] and meta_l["n_seeds_bad_calo_position"] == [0]
    # the unmatched window (bad position) is dropped with maxnocalow = 0
    assert run(ev, window_version="v2")[0] == []


def test_working_point_at_raw_seed_et_and_abs_eta_inclusive() -> None:
    def ev(seed_eta, seed_et, factor, score):
        return event(
            [
                cluster(seed_eta, 0.0, seed_et, calib_factor=factor, scores=[0.9]),
                cluster(seed_eta + math.copysign(0.05, seed_eta), 0.1, 1.0, calib_factor=0.5, scores=[score]),
            ],
            [calo(seed_eta, 0.0)],
        )

    def passed(*args) -> bool:
        return by_index(run([ev(*args)], wp=step_wp())[0][0])[1]["in_scluster"]

    assert passed(0.5, 12.0, 1.0, 0.1)  # raw Et 12 -> 0.1, >= passes
    assert not passed(0.5, 12.0, 1.0, 0.0999)
    assert not passed(0.5, 9.9, 1.3, 0.2)  # calibrated Et 12.9 but raw 9.9 -> 0.3
    assert passed(-2.0, 12.0, 1.0, 0.15)  # |eta| 2 -> endcap column 0.15
    assert not passed(-2.0, 12.0, 1.0, 0.14)


def test_labels_for_same_other_and_no_calo() -> None:
    clusters = [
        cluster(0.0, 0.0, 30.0, scores=[0.7, 0.0]),  # seed, main of calo 0
        cluster(0.03, 0.05, 5.0, scores=[0.2, 0.0]),  # calo 0, not main
        cluster(0.02, -0.1, 4.0, scores=[0.0, 0.6]),  # main of calo 1
        cluster(0.01, 0.2, 3.0, scores=[0.0, 0.1]),  # calo 1, not main
        cluster(-0.05, 0.3, 2.0, scores=[0.0, 0.0]),  # no calo
    ]
    windows, _ = run([event(clusters, [calo(0.0, 0.0), calo(0.0, 2.0)])], overlap=False)
    (w,) = windows  # calo 1 is generated far away: the main-of-calo-1 window is not matched and dropped
    assert w["is_seed_calo_seed"] and w["calo_index"] == 0 and w["nclusters_insc"] == 2
    cl = by_index(w)
    assert [cl[i]["is_calo_matched"] for i in range(5)] == [True, True, False, False, False]
    assert [cl[i]["is_calo_matched_diffcalo"] for i in range(5)] == [False, False, True, True, False]
    assert [cl[i]["is_calo_seed"] for i in range(5)] == [True, False, True, False, False]
    assert [cl[i]["other_calo_index"] for i in range(5)] == [-1, -1, 1, -1, -1]
    assert [cl[i]["in_scluster"] for i in range(5)] == [True, True, False, False, False]
    assert [cl[i]["calo_simen_sig"] for i in range(5)] == [0.35, 0.1, 0.0, 0.0, 0.0]


def test_unmatched_window_labels() -> None:
    clusters = [cluster(0.0, 0.0, 20.0, scores=[0.005]), cluster(0.02, 0.0, 3.0, scores=[0.9])]
    (w,), _ = run([event(clusters, [calo(0.0, 0.0)])], maxnocalow=1)
    assert not w["is_seed_calo_matched"] and w["nclusters_insc"] == 0
    assert (w["max_en_cluster_insc"], w["max_deta_cluster_insc"], w["max_dphi_cluster_insc"]) == (-1.0, -1.0, -1.0)
    cl = by_index(w)
    assert cl[0]["in_scluster"] and not cl[1]["in_scluster"]  # the seed is always in its supercluster
    assert not cl[1]["is_calo_matched"] and cl[1]["other_calo_index"] == -1 and not cl[1]["is_calo_seed"]
    assert w["en_true_sim"] == 0.0 and w["et_true_gen"] == 0.0 and w["gen_true_eta"] == 0.0


def test_pu_limit_only_with_do_pu_sim() -> None:
    def ev(pu_sim):
        return event(
            [
                cluster(0.0, 0.0, 20.0, scores=[0.8], sim=[10.0]),
                cluster(0.03, 0.0, 5.0, scores=[0.3], sim=[2.0], pu_sim=pu_sim, pu_reco=0.7, pu_n=3.0),
            ],
            [calo(0.0, 0.0)],
        )

    (low,), _ = run([ev(0.8)], do_pu_sim=True, pu_limit=0.5)  # fraction 0.4
    (high,), _ = run([ev(1.2)], do_pu_sim=True, pu_limit=0.5)  # fraction 0.6
    (off,), _ = run([ev(1.2)], pu_limit=0.5)
    assert by_index(low)[1]["cluster_PUfrac"] == 0.4 and by_index(low)[1]["in_scluster"]
    assert by_index(high)[1]["cluster_PUfrac"] == pytest.approx(0.6) and not by_index(high)[1]["in_scluster"]
    assert by_index(high)[1]["calo_simen_PU"] == 1.2 and high["wtot_recoen_PU"] == 0.7
    assert by_index(off)[1]["in_scluster"] and by_index(off)[1]["cluster_PUfrac"] == 0.0
    assert off["wtot_simen_PU"] == 0.0 and off["event_tot_simen_PU"] == 0.0 and high["event_tot_simen_PU"] == 7.5
    assert by_index(off)[1]["noise_en"] == 0.0 and by_index(high)[1]["noise_en"] == 0.1


# -- features -------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1, -1])
def test_deta_dphi_signs_and_window_aggregates(sign: int) -> None:
    clusters = [
        cluster(sign * 1.0, 0.2, 20.0, calib_factor=1.5, scores=[0.9]),
        cluster(sign * 1.05, 0.25, 5.0, scores=[0.5]),  # outwards, larger phi
        cluster(sign * 0.95, 0.1, 2.0, scores=[0.5]),  # inwards, smaller phi
        cluster(sign * 1.02, 0.22, 25.0, calib_factor=1.0, scores=[0.1]),  # more energetic than the seed
    ]
    (w,), _ = run([event(clusters, [calo(sign * 1.0, 0.2)])])
    cl = by_index(w)
    assert cl[1]["cluster_deta"] == pytest.approx(0.05) and cl[2]["cluster_deta"] == pytest.approx(-0.05)
    assert cl[1]["cluster_dphi"] == pytest.approx(-0.05) and cl[2]["cluster_dphi"] == pytest.approx(0.1)
    en = [c["raw"] for c in clusters]
    assert w["max_en_cluster"] == max(en) and w["min_en_cluster"] == min(en)
    assert w["mean_en_cluster"] == pytest.approx(sum(en) / 4)
    assert w["max_deta_cluster"] == pytest.approx(0.05) and w["min_deta_cluster"] == 0.0
    assert w["max_dphi_cluster"] == pytest.approx(0.1)
    assert w["min_den_cluster"] == pytest.approx(en[0] - en[3])
    assert w["min_den_cluster"] < 0  # den keeps its sign
    assert w["max_det_cluster"] == pytest.approx(18.0)
    assert math.isnan(cl[3]["cluster_den_seed_log"])  # ln(x + 1) with x < -1
    assert cl[1]["cluster_det_seed_log"] == pytest.approx(math.log(16.0))
    assert w["ncls"] == 4 and [c["cl_index"] for c in w["clusters"]] == [0, 3, 1, 2]  # calibrated Et order


def test_log_of_minus_one_is_minus_infinity() -> None:
    clusters = [cluster(0.0, 0.0, 10.0, calib_factor=1.5, scores=[0.9]), cluster(0.0, 0.3, 11.0, scores=[0.5])]
    (w,), _ = run([event(clusters, [calo(0.0, 0.0)])])
    assert by_index(w)[1]["cluster_den_seed"] == -1.0
    assert by_index(w)[1]["cluster_den_seed_log"] == -math.inf


def test_true_mustache_and_seed_features() -> None:
    clusters = [cluster(0.3, 0.1, 20.0, scores=[0.9], hit_e=[10.0, 4.0], hit_f=[1.0, 0.5]), cluster(0.31, 0.12, 2.0)]
    calos = [calo(0.32, 0.1, gen_e=40.0, sim_e=38.0, sim_good=37.0, sim_eta=0.5)]
    (w,), _ = run([event(clusters, calos, sc_seeds=[1, 0])])
    assert w["mustache_seed_index"] == 1 and w["is_seed_mustache_matched"]
    assert w["en_mustache_raw"] == pytest.approx(clusters[0]["raw"] * 1.2)
    assert w["et_mustache_calib"] == pytest.approx(clusters[0]["calib"] * 1.2 / math.cosh(0.3))
    assert w["en_true_sim"] == 38.0 and w["et_true_sim"] == pytest.approx(38.0 / math.cosh(0.32))  # gen eta
    assert w["et_true_sim_good"] == pytest.approx(37.0 / math.cosh(0.32)) and w["sim_true_eta"] == 0.5
    assert w["et_seed"] == pytest.approx(20.0) and w["et_seed_calib"] == pytest.approx(21.0)
    assert [list(h) for h in w["seed_hits"]] == [[17, 1, 0, 10.0, 10.0, 1.0], [17, 1, 0, 4.0, 2.0, 0.5]]
    assert [type(x) for x in w["seed_hits"][0]] == [int, int, int, float, float, float]
    assert w["en_seed_log"] == pytest.approx(math.log(clusters[0]["raw"] + 1))


def test_window_index_is_sha256_letters() -> None:
    windows, _ = run([event([cluster(0.0, 0.0, 20.0, scores=[0.9])], [calo(0.0, 0.0)], event_id=42)])
    value = int.from_bytes(hashlib.sha256(b"1:7:42:0").digest(), "big")
    letters = ""
    for _ in range(9):
        value, rest = divmod(value, 26)
        letters += chr(97 + rest)
    assert windows[0]["window_index"] == letters


# -- which windows are kept ----------------------------------------------------------------


def many_unmatched(event_id: int = 5) -> dict:
    clusters = [cluster(0.0, 0.0, 50.0, scores=[0.9])]
    phis = [1.0, 1.8, 2.6, -2.6, -1.8, -1.0]  # more than a window width apart, also across pi
    clusters += [cluster(0.0, phi, 10.0 - k, scores=[0.0]) for k, phi in enumerate(phis)]
    return event(clusters, [calo(0.0, 0.0)], event_id=event_id)


def test_maxnocalow_keeps_matched_first_unmatched_and_a_seeded_sample() -> None:
    assert len(run([many_unmatched()])[0]) == 1
    windows, meta = run([many_unmatched()], maxnocalow=2, random_seed=7)
    assert meta["n_windows_matched"] == [1] and meta["n_windows_nomatched"] == [6]
    kept = seeds(windows)
    assert len(kept) == 4 and kept[:2] == [0, 1]  # matched + the first unmatched (|M| = 1)
    assert kept == sorted(kept)  # creation (Et) order
    again, _ = run([many_unmatched()], maxnocalow=2, random_seed=7)
    assert seeds(again) == kept
    samples = {tuple(seeds(run([many_unmatched()], maxnocalow=2, random_seed=s)[0])) for s in range(12)}
    assert len(samples) > 1  # the user seed drives the sample
    assert len(run([many_unmatched()], maxnocalow=50)[0]) == 7  # min(maxnocalow, |U| - |M|)


def test_sample_depends_on_event_not_on_neighbours() -> None:
    alone, _ = run([many_unmatched(9)], maxnocalow=2, random_seed=3)
    together, _ = run([many_unmatched(8), many_unmatched(9)], maxnocalow=2, random_seed=3)
    assert [w["window_index"] for w in together if w["event_id"] == 9] == [w["window_index"] for w in alone]


def test_keep_all_when_unmatched_do_not_outnumber_matched() -> None:
    clusters = [cluster(0.0, 0.0, 50.0, scores=[0.9, 0.0]), cluster(0.0, 2.0, 40.0, scores=[0.0, 0.9])]
    clusters.append(cluster(0.0, -2.0, 30.0, scores=[0.0, 0.0]))
    windows, _ = run([event(clusters, [calo(0.0, 0.0), calo(0.0, 2.0)])], maxnocalow=1)
    assert seeds(windows) == [0, 1, 2]


def test_empty_events_and_chunk() -> None:
    windows, meta = run([event([], []), event([cluster(0.0, 0.0, 0.5, scores=[0.9])], [calo(0.0, 0.0)])])
    assert windows == [] and meta["n_windows_matched"] == [0, 0]
    result = compute_windows(build([event([], [])])[:0], WindowConfig(), flat_wp(0.1))
    assert result.n_windows == 0 and result.n_events == 0


def test_records_have_spec_key_order() -> None:
    windows, _ = run([event([cluster(0.0, 0.0, 20.0, scores=[0.9])], [calo(0.0, 0.0)])])
    keys = list(windows[0])
    assert keys[:9] == [
        "run_id",
        "lumi_id",
        "event_id",
        "window_index",
        "is_seed_calo_matched",
        "calo_index",
        "is_seed_calo_seed",
        "is_seed_mustache_matched",
        "mustache_seed_index",
    ]
    assert keys[keys.index("seed_hits") : keys.index("seed_hits") + 2] == ["seed_hits", "clusters"]
    assert keys[-3:] == ["wtot_simen_PU", "wtot_recoen_PU", "wtot_simen_sig"]
    assert list(windows[0]["clusters"][0])[:8] == [
        "cl_index",
        "is_seed",
        "in_geom_mustache",
        "is_calo_matched",
        "is_calo_matched_diffcalo",
        "other_calo_index",
        "is_calo_seed",
        "in_scluster",
    ]
    assert isinstance(windows[0]["ncls"], int) and isinstance(windows[0]["seed_nxtals"], float)
    assert np.isclose(windows[0]["rho"], 12.5) and isinstance(windows[0]["window_index"], str)
    assert ak.Array(windows).fields == list(windows[0])


def test_window_index_collision_within_an_event_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from include.core.errors import InputFileError
    from include.ecal_windows import windows as windows_module

    monkeypatch.setattr(windows_module, "window_indices", lambda run, lumi, event, seed: ["aaaaaaaaa"] * len(seed))
    ev = event([cluster(0.0, 0.0, 20.0, scores=[0.9]), cluster(0.0, 2.0, 10.0, scores=[0.0])], [calo(0.0, 0.0)])
    with pytest.raises(InputFileError, match="collision"):
        compute_windows(build([ev]), WindowConfig(maxnocalow=1), flat_wp(0.1), "f.root")
    # the same id in different events is fine
    other = event([cluster(0.0, 0.0, 20.0, scores=[0.9])], [calo(0.0, 0.0)], event_id=2)
    assert compute_windows(build([ev, other]), WindowConfig(), flat_wp(0.1)).n_windows == 2
