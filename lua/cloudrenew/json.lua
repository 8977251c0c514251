-- cloudrenew.json is documented under this name; the module is cloudrenew.client.json
-- (docs/layout.md). Same table either way.
return require("cloudrenew.client.json")
