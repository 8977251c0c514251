-- The products the workflow renews, one module each behind one interface:
-- cloud, periods, batch, row(r, i, client), inquire(c, rows, period, price),
-- renew(c, row, period, token) and the flags token / caller_priced; for the billing
-- listings (issue 23, cloudrenew.workflow.expiring): billing_code, route, regional and
-- billing_row. Prices come back in integer cents (cloudrenew.workflow.money).
return {
  cvm = require("cloudrenew.products.cvm"),
  hspro = require("cloudrenew.products.hspro"),
  teo = require("cloudrenew.products.teo"),
  ecs = require("cloudrenew.products.ecs"),
}
