// Endpoints about the server itself, outside the registry API: the scenario list, a health
// check and Prometheus metrics.
import type { Hono } from 'hono'
import { jsonResponse } from '../registry/constants.ts'
import { SCENARIO_PREFIX, SCENARIOS } from '../scenarios/index.ts'

/** Live counters of the server. */
export interface Stats {
  requestsInFlight: number
  requestsTotal: number
  pendingDelays: number
}

export const createStats = (): Stats => ({
  requestsInFlight: 0,
  requestsTotal: 0,
  pendingDelays: 0,
})

/** Every scenario with its summary, parameters and a working example. */
export function describeScenarios() {
  return SCENARIOS.map((s) => ({
    name: s.name,
    repository: `${SCENARIO_PREFIX}${s.name}`,
    summary: s.summary,
    params: s.params,
    example: `${SCENARIO_PREFIX}${s.name}:${s.example}`,
  }))
}

/** Mounts the admin endpoints on the app. */
export function mountAdmin(app: Hono, stats: Stats) {
  app.get('/_broken/scenarios', () => jsonResponse({ scenarios: describeScenarios() }))
  app.get('/_broken/health', () => jsonResponse({ status: 'ok' }))
  app.get('/metrics', () => {
    const lines = [
      '# HELP broken_reg_requests_in_flight Requests being answered now.',
      '# TYPE broken_reg_requests_in_flight gauge',
      `broken_reg_requests_in_flight ${stats.requestsInFlight}`,
      '# HELP broken_reg_requests_total Requests answered since start.',
      '# TYPE broken_reg_requests_total counter',
      `broken_reg_requests_total ${stats.requestsTotal}`,
      '# HELP broken_reg_pending_delays Scenario delays (timeouts, slow answers) still waiting.',
      '# TYPE broken_reg_pending_delays gauge',
      `broken_reg_pending_delays ${stats.pendingDelays}`,
    ]
    return new Response(`${lines.join('\n')}\n`, {
      headers: { 'Content-Type': 'text/plain; version=0.0.4' },
    })
  })
}
