-- cloudrenew.redis_ngx is documented under this name; the module is cloudrenew.redis.ngx
-- (docs/layout.md). Same table either way.
return require("cloudrenew.redis.ngx")
