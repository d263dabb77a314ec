import type { FastifyInstance } from 'fastify';
import {
  InvoiceQuerySchema,
  InvoiceResponseSchema,
  UsageQuerySchema,
  UsageResponseSchema,
  type InvoiceQuery,
  type UsageQuery,
} from '../../protocol/billing.ts';
import type { Statements } from '../billing/statements.ts';
import { callerOf } from './authenticate.ts';

/** Usage and invoices: the caller's own, or (tenant admins) the whole tenant's. */
export function registerBillingRoutes(app: FastifyInstance, statements: Statements): void {
  app.get<{ Querystring: UsageQuery }>(
    '/usage',
    { schema: { querystring: UsageQuerySchema, response: { 200: UsageResponseSchema } } },
    (request) => statements.usage(callerOf(request), request.query.month),
  );
  app.get<{ Querystring: InvoiceQuery }>(
    '/invoices',
    { schema: { querystring: InvoiceQuerySchema, response: { 200: InvoiceResponseSchema } } },
    (request) => statements.invoice(callerOf(request), request.query.month),
  );
}
