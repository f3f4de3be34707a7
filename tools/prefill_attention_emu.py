# Desk check of prefillAttentionK (autoglm-cuda/src/main/native/attention_prefill.cu) without a GPU: one block at a
# time, lane by lane, with the PTX fragment layouts of ldmatrix(.trans) and mma.m16n8k16 and the kernel's swizzle,
# masks and online softmax, against a float64 reference. Usage: python3 tools/prefill_attention_emu.py (numpy; ~30 s).
import numpy as np, sys
BM, BN = 64, 64
def bf(x):
    x = np.asarray(x, np.float32); b = x.view(np.uint32).astype(np.uint64)
    b = ((b + 0x7fff + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)
def swz(D, row, chunk): return row * D + ((chunk ^ (row & 7)) << 3)

def ldm(smem, D, addrs, trans):
    # addrs[lane] = element offset of the row that lane provides; returns regs[lane][j] = 2 floats
    mats = [np.array([smem[addrs[j*8+r]:addrs[j*8+r]+8] for r in range(8)]) for j in range(4)]
    out = []
    for t in range(32):
        g, c = t // 4, t % 4
        regs = []
        for j in range(4):
            M = mats[j].T if trans else mats[j]
            regs.append((M[g, 2*c], M[g, 2*c+1]))
        out.append(regs)
    return out

def mma(C, A, B0, B1):
    # C[lane] 4 floats, A[lane] 4 regs of 2, B0/B1[lane] reg of 2; builds full matrices and multiplies
    Am = np.zeros((16, 16)); Bm = np.zeros((16, 8))
    for t in range(32):
        g, c = t // 4, t % 4
        a = A[t]
        Am[g, 2*c:2*c+2] = a[0]; Am[g+8, 2*c:2*c+2] = a[1]; Am[g, 2*c+8:2*c+10] = a[2]; Am[g+8, 2*c+8:2*c+10] = a[3]
        Bm[2*c:2*c+2, g] = B0[t]; Bm[2*c+8:2*c+10, g] = B1[t]
    Cm = Am @ Bm
    for t in range(32):
        g, c = t // 4, t % 4
        C[t][0] += Cm[g, 2*c]; C[t][1] += Cm[g, 2*c+1]; C[t][2] += Cm[g+8, 2*c]; C[t][3] += Cm[g+8, 2*c+1]

def run(D, G, kvHeads, rows_pos, bs, seed):
    rng = np.random.default_rng(seed)
    heads = G * kvHeads; ldq = heads * D + 2 * kvHeads * D
    maxctx = max(rows_pos) + 1
    nblk = (maxctx + bs - 1) // bs + 3
    table = rng.permutation(nblk)
    slots = nblk * bs
    kc = bf(rng.uniform(-1, 1, (slots, kvHeads, D))); vc = bf(rng.uniform(-.5, .5, (slots, kvHeads, D)))
    R = len(rows_pos)
    q = bf(rng.uniform(-3, 3, (R, ldq)))
    scale = 1 / np.sqrt(D); sl2 = scale * 1.4426950408889634
    HB = min(G, BM); TM = BM // HB; hgb = (G + HB - 1) // HB
    out = np.full((R, heads * D), np.nan)
    CH = D // 8
    for tile0 in range(0, R, TM):
        rows = min(TM, R - tile0)
        for bx in range(kvHeads * hgb):
            kh, hb = bx // hgb, bx % hgb
            posOf = [rows_pos[tile0 + i] if i < rows else -1 for i in range(TM)]
            qs = np.zeros(BM * D, np.float32)
            for m in range(BM):
                for c in range(CH):
                    tq = m // HB; g = hb * HB + m - tq * HB
                    valid = tq < rows and g < G and m < TM * HB
                    if valid:
                        qs[swz(D, m, c):swz(D, m, c)+8] = q[tile0 + tq, (kh*G+g)*D + c*8:(kh*G+g)*D + c*8+8]
            valid_pos = [p for p in posOf if p >= 0]
            maxPos, minPos = max(valid_pos), min(valid_pos)
            nT = (maxPos + BN) // BN
            for warp in range(4):
                qf = [ldm(qs, D, [swz(D, warp*16 + (l & 15), kk*2 + (l >> 4)) for l in range(32)], False) for kk in range(D//16)]
                o = [[[0.0]*4 for _ in range(D//8)] for _ in range(32)]
                m0 = [-np.inf]*32; m1 = [-np.inf]*32; l0 = [0.0]*32; l1 = [0.0]*32
                pos0 = []; pos1 = []
                for lane in range(32):
                    mr0 = warp*16 + (lane >> 2); mr1 = mr0 + 8
                    pos0.append(posOf[mr0 // HB] if mr0 < TM*HB and hb*HB + mr0 % HB < G else -1)
                    pos1.append(posOf[mr1 // HB] if mr1 < TM*HB and hb*HB + mr1 % HB < G else -1)
                for j in range(nT):
                    k0 = j * BN
                    ks = np.zeros(BN * D, np.float32); vs = np.zeros(BN * D, np.float32)
                    for r in range(BN):
                        p = k0 + r
                        if p <= maxPos:
                            slot = table[p // bs] * bs + p % bs
                            for c in range(CH):
                                ks[swz(D, r, c):swz(D, r, c)+8] = kc[slot, kh, c*8:c*8+8]
                                vs[swz(D, r, c):swz(D, r, c)+8] = vc[slot, kh, c*8:c*8+8]
                    s = [[[0.0]*4 for _ in range(BN//8)] for _ in range(32)]
                    for kk in range(D//16):
                        for n in range(0, BN//8, 2):
                            b = ldm(ks, D, [swz(D, n*8 + (l & 7) + ((l >> 4) << 3), kk*2 + ((l >> 3) & 1)) for l in range(32)], False)
                            mma([s[t][n] for t in range(32)], [qf[kk][t] for t in range(32)], [b[t][0] for t in range(32)], [b[t][1] for t in range(32)])
                            mma([s[t][n+1] for t in range(32)], [qf[kk][t] for t in range(32)], [b[t][2] for t in range(32)], [b[t][3] for t in range(32)])
                    mask = k0 + BN - 1 > minPos
                    pf = [None]*32
                    for t in range(32):
                        mx0, mx1 = m0[t], m1[t]
                        for n in range(BN//8):
                            p = k0 + n*8 + (t & 3)*2
                            if mask:
                                if p > pos0[t]: s[t][n][0] = -np.inf
                                if p + 1 > pos0[t]: s[t][n][1] = -np.inf
                                if p > pos1[t]: s[t][n][2] = -np.inf
                                if p + 1 > pos1[t]: s[t][n][3] = -np.inf
                            mx0 = max(mx0, s[t][n][0], s[t][n][1]); mx1 = max(mx1, s[t][n][2], s[t][n][3])
                        s[t].append((mx0, mx1))
                    for t in range(32):  # quad reduce
                        quad = [t ^ x for x in (0, 1, 2, 3)]
                        mx0 = max(s[u][-1][0] for u in quad); mx1 = max(s[u][-1][1] for u in quad)
                        b0 = 0.0 if mx0 == -np.inf else mx0 * sl2; b1 = 0.0 if mx1 == -np.inf else mx1 * sl2
                        c0 = 2.0 ** (m0[t] * sl2 - b0); c1 = 2.0 ** (m1[t] * sl2 - b1)
                        s[t][-1] = (mx0, mx1, b0, b1, c0, c1)
                    for t in range(32):
                        mx0, mx1, b0, b1, c0, c1 = s[t][-1]
                        m0[t], m1[t] = mx0, mx1
                        l0[t] *= c0; l1[t] *= c1
                        for n in range(D//8):
                            o[t][n][0] *= c0; o[t][n][1] *= c0; o[t][n][2] *= c1; o[t][n][3] *= c1
                        regs = [[None]*4 for _ in range(BN//16)]
                        for n in range(BN//8):
                            p0 = 2.0 ** (s[t][n][0]*sl2 - b0); p1 = 2.0 ** (s[t][n][1]*sl2 - b0)
                            p2 = 2.0 ** (s[t][n][2]*sl2 - b1); p3 = 2.0 ** (s[t][n][3]*sl2 - b1)
                            l0[t] += p0 + p1; l1[t] += p2 + p3
                            regs[n >> 1][(n & 1)*2] = tuple(bf([p0, p1])); regs[n >> 1][(n & 1)*2 + 1] = tuple(bf([p2, p3]))
                        pf[t] = regs
                    for kk in range(BN//16):
                        for n in range(0, D//8, 2):
                            b = ldm(vs, D, [swz(D, kk*16 + (l & 7) + (((l >> 3) & 1) << 3), n + (l >> 4)) for l in range(32)], True)
                            mma([o[t][n] for t in range(32)], [pf[t][kk] for t in range(32)], [b[t][0] for t in range(32)], [b[t][1] for t in range(32)])
                            mma([o[t][n+1] for t in range(32)], [pf[t][kk] for t in range(32)], [b[t][2] for t in range(32)], [b[t][3] for t in range(32)])
                L0 = [sum(l0[t ^ x] for x in range(4)) for t in range(32)]; L1 = [sum(l1[t ^ x] for x in range(4)) for t in range(32)]
                for t in range(32):
                    for half in range(2):
                        mr = warp*16 + (t >> 2) + 8*half
                        if (pos1 if half else pos0)[t] < 0: continue
                        tq = mr // HB; g = hb*HB + mr % HB
                        inv = 1 / (L1 if half else L0)[t]
                        for n in range(D//8):
                            d = n*8 + (t & 3)*2
                            out[tile0 + tq, (kh*G+g)*D + d] = o[t][n][half*2] * inv
                            out[tile0 + tq, (kh*G+g)*D + d + 1] = o[t][n][half*2+1] * inv
    # reference
    ref = np.zeros((R, heads * D))
    for r in range(R):
        P = rows_pos[r]
        sl = [table[p // bs] * bs + p % bs for p in range(P + 1)]
        for h in range(heads):
            kh = h // G
            K = kc[sl, kh].astype(np.float64); V = vc[sl, kh].astype(np.float64)
            sc = K @ q[r, h*D:(h+1)*D].astype(np.float64) * scale
            w = np.exp(sc - sc.max()); ref[r, h*D:(h+1)*D] = w @ V / w.sum()
    d = np.abs(out - ref)
    bound = 0.5/512 + np.abs(ref)/256 + 2e-5
    print(f"D={D} G={G} kv={kvHeads} rows={R} pos {rows_pos[0]}..{rows_pos[-1]} bs={bs}: nan {np.isnan(out).sum()} max|d| {np.nanmax(d):.3g} worst d/bound {np.nanmax(d/bound):.2f}")

cases = [(64, 16, 2, list(range(66, 70)), 16), (64, 1, 1, list(range(0, 70)), 16), (64, 12, 1, list(range(3, 9)), 7),
         (128, 16, 1, list(range(125, 131)), 16), (64, 96, 1, [5, 6], 1), (64, 2, 2, [0], 16)]
for c in cases:
    run(*c, seed=1)
