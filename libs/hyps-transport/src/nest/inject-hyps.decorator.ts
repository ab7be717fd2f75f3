import { Inject } from '@nestjs/common';

/** Injection token of the HypsClient that HypsModule provides (also injectable by its class). */
export const HYPS_CLIENT: unique symbol = Symbol('HYPS_CLIENT');

/** Injection token of the validated HypsModule options. */
export const HYPS_MODULE_OPTIONS: unique symbol = Symbol('HYPS_MODULE_OPTIONS');

/** Injects the HypsClient provided by HypsModule: `constructor(@InjectHyps() hyps: HypsClient)`. */
export function InjectHyps(): PropertyDecorator & ParameterDecorator {
  return Inject(HYPS_CLIENT);
}
