/**
 * The gateway-wide bound on work in flight. No queue: a request that does not fit is refused
 * at once (and answered RETRY_AFTER), so memory stays bounded whatever clients offer.
 */
export class Admission {
  private events = 0;
  private bytes = 0;

  constructor(
    readonly maxEvents: number,
    readonly maxBytes: number,
  ) {}

  tryAcquire(events: number, bytes: number): boolean {
    if (this.events + events > this.maxEvents || this.bytes + bytes > this.maxBytes) return false;
    this.events += events;
    this.bytes += bytes;
    return true;
  }

  release(events: number, bytes: number): void {
    this.events -= events;
    this.bytes -= bytes;
  }

  get inFlightEvents(): number {
    return this.events;
  }

  get inFlightBytes(): number {
    return this.bytes;
  }
}
