/**
 * What a PostgreSQL pool's connections have sent since it opened: statements, and the socket writes that
 * carried them (a pipelined transaction's statements of one tick leave in one write). Per request both are
 * set by the code far more than by the machine (batched work shares statements a little differently as timing
 * changes), so they tell a change in the SQL a request makes apart from a slower or busier machine, which
 * latency and CPU time cannot.
 */
export class PoolTraffic {
  statements = 0;
  writes = 0;
}
