"""PyTorch twin of linear_threads.fsx (Debian's python3-torch calls OpenBLAS for these products).
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/profile/linear_threads.py   (1-thread rows)
  OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/profile/linear_threads.py   (2-thread rows)
"""
import torch,time,torch.nn.functional as F
for threads in [1,2]:
  torch.set_num_threads(threads)
  for m in [128,256,704]:
    a=torch.randn(m,384); w=torch.randn(384,384); b=torch.randn(384)
    for _ in range(50): F.linear(a,w,b)
    best=1e9
    for r in range(5):
        t=time.perf_counter()
        for _ in range(200): F.linear(a,w,b)
        best=min(best,(time.perf_counter()-t)/200)
    print("threads %d linear %dx384x384 %.1f us %.1f GFLOP/s"%(threads,m,best*1e6,2*m*384*384/best/1e9))
