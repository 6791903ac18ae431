import { LiveUpdateError } from "../../common/errors.js";

/** A device was registered twice with the scheduler, or under a name another device already has. */
export class DeviceAlreadyRegisteredError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_DEVICE_ALREADY_REGISTERED";
  /** @param device - the device's name. */
  constructor(readonly device: string) {
    super(`device "${device}" is already registered with the machine's scheduler`, { device });
  }
}

/** Scheduler settings are invalid (a negative or reversed quantum, a probability outside [0, 1]). */
export class SchedulerOptionsError extends LiveUpdateError {
  /** @inheritDoc */
  readonly code = "HW_BAD_SCHEDULER_OPTIONS";
  /**
   * @param field - the option.
   * @param value - its value.
   */
  constructor(field: string, value: unknown) {
    super(`invalid scheduler option ${field} = ${JSON.stringify(value)}`, { field, value });
  }
}
