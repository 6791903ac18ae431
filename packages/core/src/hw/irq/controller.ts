import type { MachineClock } from "../clock.js";
import type { InterruptSource } from "./counters.js";
import { VectorError } from "./errors.js";
import { decodeMsi, FIRST_DEVICE_VECTOR, LAST_VECTOR, type MsiMessage } from "./message.js";

/** What a handler receives. */
export interface InterruptDelivery {
  /** The vector. */
  readonly vector: number;
  /** Destination APIC id from the message address. */
  readonly destination: number;
  /** Name of the device that raised it. */
  readonly source: string;
  /** Machine time of the delivery (ns). */
  readonly at: number;
  /** True when it had been latched (unwired vector) and is delivered late. */
  readonly late: boolean;
}

/** A kernel's interrupt handler for one vector. */
export type InterruptHandler = (delivery: InterruptDelivery) => void;

interface Latched {
  readonly source: InterruptSource;
  readonly destination: number;
}

/**
 * The machine's interrupt controller (a model of the local APICs' message path). A kernel wires
 * vectors to handlers; devices send MSI messages. A message for an unwired vector — during the
 * blackout, between the old kernel's handlers going away at kexec and the new kernel wiring its own
 * — is latched, never dropped, and delivered when the vector is wired. Two messages of one device
 * to the same latched vector are one latched interrupt (as one IRR bit), counted as coalesced.
 *
 * A handler that throws is a kernel bug, not a hardware one: the error is kept in
 * {@link InterruptController.handlerErrors} and delivery continues.
 *
 * @example
 * ```ts
 * machine.interrupts.wire(0x41, (d) => console.log(`vector ${d.vector} from ${d.source}`));
 * ```
 */
export class InterruptController {
  /** Errors thrown by handlers, in order. */
  readonly handlerErrors: unknown[] = [];
  private readonly handlers = new Map<number, InterruptHandler>();
  private readonly latched = new Map<number, Latched[]>();
  private lossesToInject = 0;

  /** @param clock - the machine clock (delivery times). */
  constructor(private readonly clock: MachineClock) {}

  /**
   * Wires `vector` to `handler` and delivers what was latched for it.
   *
   * @throws {@link VectorError} when the vector is outside 32–255 or already wired.
   */
  wire(vector: number, handler: InterruptHandler): void {
    checkVector(vector);
    if (this.handlers.has(vector)) throw new VectorError(vector, "already wired");
    this.handlers.set(vector, handler);
    const queue = this.latched.get(vector);
    if (queue === undefined) return;
    this.latched.delete(vector);
    for (const l of queue) {
      l.source.interruptCounters.pending--;
      this.invoke(vector, l.destination, l.source, true);
    }
  }

  /** Unwires `vector` (no-op when not wired); later messages to it are latched. */
  unwire(vector: number): void {
    this.handlers.delete(vector);
  }

  /** Unwires every vector: what a kexec does (the new kernel brings its own IDT). */
  unwireAll(): void {
    this.handlers.clear();
  }

  /** Whether `vector` has a handler. */
  isWired(vector: number): boolean {
    return this.handlers.has(vector);
  }

  /** Vectors with a handler, ascending. */
  wiredVectors(): number[] {
    return [...this.handlers.keys()].sort((a, b) => a - b);
  }

  /** Messages latched for unwired vectors: vector and source name, in arrival order per vector. */
  latchedMessages(): Array<{ vector: number; source: string }> {
    const out: Array<{ vector: number; source: string }> = [];
    for (const [vector, queue] of [...this.latched].sort((a, b) => a[0] - b[0])) {
      for (const l of queue) out.push({ vector, source: l.source.name });
    }
    return out;
  }

  /** Fault injection for tests: the next `count` messages are dropped (and counted as lost). */
  injectLoss(count: number): void {
    this.lossesToInject += count;
  }

  /**
   * A device's MSI message arrives. The source's counters already count it as raised; here it
   * becomes delivered, latched (pending), coalesced or — only when a fault is injected or the
   * address is outside the interrupt window — lost.
   */
  send(source: InterruptSource, message: MsiMessage): void {
    const decoded = decodeMsi(message);
    if (decoded === undefined || this.lossesToInject > 0) {
      if (decoded !== undefined) this.lossesToInject--;
      source.interruptCounters.lost++;
      return;
    }
    const { vector, destination } = decoded;
    if (this.handlers.has(vector)) {
      this.invoke(vector, destination, source, false);
      return;
    }
    let queue = this.latched.get(vector);
    if (queue === undefined) {
      queue = [];
      this.latched.set(vector, queue);
    }
    if (queue.some((l) => l.source === source)) {
      source.interruptCounters.coalesced++;
      return;
    }
    queue.push({ source, destination });
    source.interruptCounters.pending++;
  }

  private invoke(vector: number, destination: number, source: InterruptSource, late: boolean): void {
    source.interruptCounters.delivered++;
    try {
      this.handlers.get(vector)!({ vector, destination, source: source.name, at: this.clock.now(), late });
    } catch (error) {
      this.handlerErrors.push(error);
    }
  }
}

function checkVector(vector: number): void {
  if (!Number.isInteger(vector) || vector < FIRST_DEVICE_VECTOR || vector > LAST_VECTOR) {
    throw new VectorError(vector, `outside ${FIRST_DEVICE_VECTOR}..${LAST_VECTOR}`);
  }
}
