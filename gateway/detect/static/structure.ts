/**
 * Per cell, whether a change looks like light or like a thing. The zone's tone curve is
 * one for the whole zone; light is not always: a street lamp's pool, a patch of sun, a
 * shadow. Such a change keeps the things' structure and adds no edges of its own:
 *
 * - relit: a textured cell whose look now correlates closely with the reference brought
 *   into the current light (normalised cross-correlation, blind to a local gain and
 *   offset) shows the same things in another light, however much brighter or darker;
 * - edged: a thing put down adds (or hides) edges, so some of its cells have pixels whose
 *   gradient changed; a region with none is a smooth change of light, not reported.
 */
export class CellStructure {
  private n = new Int32Array(0);
  private edges = new Int32Array(0);
  private sp = new Float64Array(0);
  private sc = new Float64Array(0);
  private spp = new Float64Array(0);
  private scc = new Float64Array(0);
  private spc = new Float64Array(0);

  /** Starts a frame. */
  clear(cells: number): void {
    if (this.n.length !== cells) {
      this.n = new Int32Array(cells);
      this.edges = new Int32Array(cells);
      for (const k of ['sp', 'sc', 'spp', 'scc', 'spc'] as const) this[k] = new Float64Array(cells);
      return;
    }
    for (const a of [this.n, this.edges, this.sp, this.sc, this.spp, this.scc, this.spc]) a.fill(0);
  }

  /** One pixel of cell `c`: predicted and current level, and whether its gradient changed. */
  add(c: number, p: number, q: number, edge: boolean): void {
    this.n[c]++;
    if (edge) this.edges[c]++;
    this.sp[c] += p;
    this.sc[c] += q;
    this.spp[c] += p * p;
    this.scc[c] += q * q;
    this.spc[c] += p * q;
  }

  /** Textured both in the prediction and now (std ≥ minStd) and correlated at least minNcc. */
  relit(c: number, minStd: number, minNcc: number): boolean {
    const n = this.n[c];
    if (n < 3) return false;
    const mp = this.sp[c] / n,
      mq = this.sc[c] / n;
    const vp = this.spp[c] / n - mp * mp,
      vq = this.scc[c] / n - mq * mq;
    const floor = minStd * minStd;
    if (vp < floor || vq < floor) return false;
    return (this.spc[c] / n - mp * mq) / Math.sqrt(vp * vq) >= minNcc;
  }

  /** Some of the cell's pixels changed in gradient. */
  edged(c: number): boolean {
    return this.edges[c] >= Math.max(2, 0.15 * this.n[c]);
  }
}
