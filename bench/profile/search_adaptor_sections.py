"""PyTorch twin of search_adaptor_sections.fsx: the same Search-Adaptor step timed by sections.
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=T /usr/bin/python3 bench/profile/search_adaptor_sections.py T
"""
import torch, time, torch.nn.functional as F, collections
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from steps import pairwise  # the bench's reference loss, the same as Search-Adaptor's
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
g=torch.Generator().manual_seed(1)
unit=lambda n: F.normalize(torch.randn(n,384,generator=g),dim=1)
q,d=unit(128),unit(256)
relevance=torch.cat([torch.eye(128),torch.zeros(128,128)],1)
positive=torch.arange(128)
def lin(i,o): 
    w=(torch.randn(o,i)*0.05).requires_grad_(); b=torch.zeros(o).requires_grad_(); return w,b
hw,hb=lin(384,384); ow,ob=lin(384,384); pw,pb=lin(384,96); rw,rb=lin(96,384)
params=[hw,hb,ow,ob,pw,pb,rw,rb]
opt=torch.optim.Adam(params,lr=1e-3)
adapt=lambda x: x+F.linear(F.relu(F.linear(x,hw,hb)),ow,ob)
sec=collections.Counter()
def step():
    t=time.perf_counter()
    def mark(n):
        nonlocal t
        now=time.perf_counter(); sec[n]+=now-t; t=now
    opt.zero_grad()
    aq,ad=adapt(q),adapt(d); mark("adapt")
    pq,pd=F.linear(aq,pw,pb),F.linear(ad,pw,pb); mark("project")
    s=F.normalize(pq,dim=1)@F.normalize(pd,dim=1).t()/0.05
    ranking=pairwise(s,relevance); mark("ranking")
    recovery=(torch.cat([aq,ad])-torch.cat([q,d])).abs().mean(); mark("recovery")
    predicted=F.linear(pd.index_select(0,positive),rw,rb)
    w=relevance.gather(1,positive.unsqueeze(1)).squeeze(1)
    prediction=((predicted-q).abs().mean(1)*w).sum()/w.sum(); mark("prediction")
    loss=ranking+recovery*0.1+prediction*0.1; mark("sum")
    loss.backward(); mark("backward")
    opt.step(); mark("optimizer")
    loss.item(); mark("item")
for _ in range(20): step()
sec.clear()
n=200
t0=time.perf_counter()
for _ in range(n): step()
print("total %.3f ms/step"%((time.perf_counter()-t0)/n*1000))
for k,v in sec.items(): print("  %-12s %.3f"%(k,v/n*1000))
