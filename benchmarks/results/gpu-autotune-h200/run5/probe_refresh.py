"""Device probe: host-side SOAP refresh vs the library's refresh on the GPU, same state."""
import copy, sys, torch
from tests.test_step import _model, _phase, _iteration, LMBDA, EagerIteration, GraphedIteration
from coolchic.optimizer import make_optimizer, FixedShapeSoap
from coolchic.imageio import demo_image
from coolchic.training import evaluate

def library_refresh(self):
    for group, _, params in self._stepped():
        t = group["step"] - 1
        for p in params:
            state = self.optimizer.state[p]
            if not (t > 0 and t % state["precondition_frequency"] == 0) or not any(len(s) for s in state["GG"]):
                continue
            second = state["exp_avg_sq"]
            bases = self.optimizer.get_orthogonal_matrix_qr(state, group["max_precondition_dim"], False)
            for old, new in zip(state["Q"], bases):
                if len(old): old.copy_(new)
            second.copy_(state["exp_avg_sq"]); state["exp_avg_sq"] = second
host_refresh = FixedShapeSoap.refresh

# 1. Same state, both refreshes.
torch.manual_seed(0)
model = _model("cuda")
params = model.network_parameters()
opt = make_optimizer(params, list(model.latents.parameters()), _phase("none"))
soap = FixedShapeSoap(opt)
for step in range(10):
    for p in params: p.grad = torch.randn_like(p)
    for l in model.latents: l.grad = torch.randn_like(l)
    if not soap.started: opt.step()
    else: soap.prepare(); soap.update(); soap.refresh()
for g in opt.param_groups: g["step"] = 11  # due at t = 10
snap = {p: copy.deepcopy(opt.state[p]) for p in params}
host_refresh(soap)
host = {p: ([q.clone() for q in opt.state[p]["Q"] if len(q)], opt.state[p]["exp_avg_sq"].clone()) for p in params}
for p in params: opt.state[p] = copy.deepcopy(snap[p])
library_refresh(soap)
worst_q = worst_v = 0.0
for p in params:
    qs, v = host[p]
    lib_qs = [q for q in opt.state[p]["Q"] if len(q)]
    for a, b in zip(qs, lib_qs):
        worst_q = max(worst_q, (a - b).abs().max().item())
    worst_v = max(worst_v, ((v - opt.state[p]["exp_avg_sq"]).abs().max() / (v.abs().max() + 1e-30)).item())
print(f"same state: max |Q_host - Q_library| = {worst_q:.2e}, max rel exp_avg_sq diff = {worst_v:.2e}")

# 2. The failing test's scenario, several seeds, graph with each refresh.
target = demo_image(32, 48, seed=1).cuda()
phase = _phase("none")
for provider in ("spatial", "mrc"):
    for seed in range(4):
        out = {}
        for label, kind, refresh in (("eager", EagerIteration, None), ("graph-host", GraphedIteration, host_refresh),
                                     ("graph-library", GraphedIteration, library_refresh)):
            FixedShapeSoap.refresh = refresh or host_refresh
            m = _model("cuda", provider, seed)
            it = _iteration(kind, m, target, phase)
            for index in range(30):
                it(0.35 - 0.008 * index, 0.0)
            it.release()
            out[label] = evaluate(m, target, LMBDA).loss
        FixedShapeSoap.refresh = host_refresh
        e = out["eager"]
        print(f"{provider} seed {seed}: eager {e:.6g}, graph-host {out['graph-host']/e - 1:+.2%}, graph-library {out['graph-library']/e - 1:+.2%}")
