"""What qdn-track-rewrite costs per request, next to the old manual function, on one request mix.

Two figures per function, measured side by side in one run and interleaved round by round so a
busy machine slows both alike:

- engine: the function's own cost inside QuickJS. A JS loop runs the whole mix per call and
  awaits every handler (ours is async: it reads the live build from its KeyValueStore), the
  engine's job queue drained once per call. Each request runs the code's top level afresh and
  then the handler, as the runtime does to keep requests isolated; a function that only returns
  the request is measured the same way and subtracted ("function only"). The store is a stand-in
  whose ``get`` resolves at once: what the real store costs is in the run_function column.
- run_function: what the local edge pays per request through the runtime (engine thread hop,
  JSON in and out, output validation). The seed's output fails validation on its rewrites, which
  this path includes, as the edge would.

The target is ours <= 2x the seed's engine cost: the new function does more (private-path
refusal with decoding, query preservation, redirects) but must stay in the seed's cost class.
Run: .venv/bin/python bench/bench_function.py
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import quickjs

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from localaws.cloudfront.runtime import run_function  # noqa: E402
from qdn import config  # noqa: E402
from qdn.function_cases import viewer_request_event  # noqa: E402
from qdn.function_release import MAX_COMPUTE_UTILIZATION, render  # noqa: E402

LIVE = "build-0123456789ab"
STORE = {config.LIVE_POINTER_KEY: LIVE}
# As publishing makes it: the fallback build compiled in.
OURS = render((REPO / "cf" / "qdn-track-rewrite.js").read_bytes(), LIVE).decode("utf-8")
SEED = (REPO / "bench" / "seed_rewrite.js").read_text(encoding="utf-8")
BASELINE = "function handler(event) { return event.request; }"

ROUNDS = 9
LOOPS_PER_ROUND = 20  # the whole mix this many times per engine call
RUNTIME_SAMPLE = 400  # requests per round through run_function
# What a browser sends at the least; every request in the mix carries it.
HEADERS = {"host": {"value": config.DISTRIBUTION_ALIASES[0]}, "accept": {"value": "*/*"}}


def request_mix(seed: int = 7) -> list[dict]:
    """A day's traffic in miniature: mostly tracking links and assets, some of everything else."""
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def token() -> str:
        return "".join(rng.choice(alphabet) for _ in range(32))

    def event(uri: str, query: dict | None = None) -> dict:
        return viewer_request_event(uri, query, HEADERS)

    mix: list[dict] = []
    for _ in range(40):
        mix.append(event(f"/track/{token()}", {"utm_source": {"value": "sms"}}))
    for _ in range(10):
        mix.append(event("/book/", {"size": {"value": rng.choice(["10", "20", "30"])}}))
    for _ in range(5):
        mix.append(event("/dashboard/"))
    # Pages load their assets from URLs pinned to a build (qdn.staging), which is what browsers
    # ask the edge for; a few requests still name an asset the old way (bookmarks, crawlers).
    builds = [f"build-{rng.getrandbits(48):012x}" for _ in range(3)]
    for n in range(25):
        name = f"{rng.choice(['app', 'track', 'book', 'style'])}.{rng.getrandbits(40):010x}.js"
        pinned = n % 5 != 0
        mix.append(
            event(f"/_b/{rng.choice(builds)}/assets/{name}" if pinned else f"/assets/{name}")
        )
    for uri in ("/data/jobs.json", "/jobs.json", "/%64ata/x", "//data/x", "/site/../data/x"):
        mix.append(event(uri))
    for _ in range(15):
        parts = ["".join(rng.choice(alphabet + "%./") for _ in range(rng.randint(1, 9)))]
        mix.append(event("/" + "/".join(parts * rng.randint(1, 3))))
    rng.shuffle(mix)
    return mix


_LOOP = """
var __handle = {get: function (key) {
  return key in __STORE ? Promise.resolve(__STORE[key]) : Promise.reject(new Error(key));
}};
var cf = {kvs: function () { return __handle; }};  // one handle, as the runtime hands out
async function __bench(mixJson, loops) {
  var mix = JSON.parse(mixJson);
  var texts = mix.map(function (e) { return JSON.stringify(e); });
  var sink = 0;
  for (var l = 0; l < loops; l++) {
    for (var i = 0; i < texts.length; i++) {
      var out = await __load()(JSON.parse(texts[i]));
      sink += out.uri ? out.uri.length : out.statusCode;
    }
  }
  return sink;
}
"""
# The runtime's own module import, which a plain script cannot parse: cf is a global here.
_IMPORT = "import cf from 'cloudfront';"


def _engine(code: str) -> tuple[quickjs.Object, quickjs.Context]:
    context = quickjs.Context()
    context.eval(f"var __STORE = {json.dumps(STORE)};")
    context.eval(_LOOP)
    context.eval("function __load() {" + code.replace(_IMPORT, "") + "\n;return handler;\n}")
    return context.get("__bench"), context  # keep the context alive with the function


def engine_ns_per_request(
    engine: tuple[quickjs.Object, quickjs.Context], mix_json: str, count: int
) -> float:
    bench, context = engine
    started = time.perf_counter_ns()
    bench(mix_json, LOOPS_PER_ROUND)
    while context.execute_pending_job():
        pass
    return (time.perf_counter_ns() - started) / (LOOPS_PER_ROUND * count)


def runtime_us_per_request(code: str, sample: list[dict]) -> float:
    started = time.perf_counter_ns()
    for event in sample:
        run_function(code, event, kvs=STORE)
    return (time.perf_counter_ns() - started) / len(sample) / 1000


def main() -> int:
    mix = request_mix()
    mix_json = json.dumps(mix)
    engines = {
        name: _engine(code)
        for name, code in (("ours", OURS), ("seed", SEED), ("baseline", BASELINE))
    }
    sample = (mix * (RUNTIME_SAMPLE // len(mix) + 1))[:RUNTIME_SAMPLE]
    codes = {"ours": OURS, "seed": SEED}
    for code in codes.values():  # compile and warm the runtime's cache outside the timing
        run_function(code, mix[0], kvs=STORE)

    engine: dict[str, list[float]] = {name: [] for name in engines}
    runtime: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(ROUNDS):
        for name, pair in engines.items():
            engine[name].append(engine_ns_per_request(pair, mix_json, len(mix)))
        for name, code in codes.items():
            runtime[name].append(runtime_us_per_request(code, sample))

    # The fastest round is the one the rest of the machine disturbed least (2 shared cores).
    best = {name: min(values) for name, values in engine.items()}
    own = {name: best[name] - best["baseline"] for name in codes}
    utilization = {
        name: max(run_function(code, event, kvs=STORE).compute_utilization for event in mix)
        for name, code in codes.items()
    }
    ratio = best["ours"] / best["seed"]

    print(f"request mix: {len(mix)} requests (track, book, dashboard, assets, private, random)")
    print(f"{'':14}{'engine total':>14}{'function only':>14}{'run_function':>14}{'max CU':>8}")
    for name in codes:
        print(
            f"{name:14}{best[name] / 1000:>11.2f} us{own[name] / 1000:>11.2f} us"
            f"{min(runtime[name]):>11.1f} us{utilization[name]:>8}"
        )
    print(f"{'baseline':14}{best['baseline'] / 1000:>11.2f} us   (event parse, return the request)")
    print(f"engine total ratio ours/seed: {ratio:.2f}x (target <= 2.00x)")
    print(f"end-to-end ratio ours/seed: {min(runtime['ours']) / min(runtime['seed']):.2f}x")
    # Half the release gate: the local engine is slower than CloudFront's, and a busier edge host
    # must not push a routine request over the gate.
    cu_target = MAX_COMPUTE_UTILIZATION // 2
    print(f"max ComputeUtilization ours: {utilization['ours']} (target <= {cu_target}, the gate "
          f"refuses > {MAX_COMPUTE_UTILIZATION})")  # fmt: skip
    return 0 if ratio <= 2.0 and utilization["ours"] <= cu_target else 1


if __name__ == "__main__":
    sys.exit(main())
