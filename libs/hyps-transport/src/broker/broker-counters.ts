/** Running totals the broker keeps for operators (metrics) and tests. Plain fields: cheap to bump. */
export class BrokerCounters {
  published = 0;
  delivered = 0;
  dropped = 0;
  bytesIn = 0;
  bytesOut = 0;
  connectionsAccepted = 0;
  connectionsRejected = 0;
  /** ERR frames sent, by wire code. */
  readonly errors = new Map<number, number>();

  countError(code: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
