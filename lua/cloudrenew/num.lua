-- cloudrenew.num is documented under this name; the module is cloudrenew.client.num
-- (docs/layout.md). Same table either way.
return require("cloudrenew.client.num")
