-- cloudrenew.pacer_redis is documented under this name; the module is cloudrenew.pacing.redis
-- (docs/layout.md). Same table either way.
return require("cloudrenew.pacing.redis")
