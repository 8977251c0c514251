-- cloudrenew.observe is documented under this name; the module is cloudrenew.client.observe
-- (docs/layout.md). Same table either way.
return require("cloudrenew.client.observe")
