-- cloudrenew.pages is documented under this name; the module is cloudrenew.client.pages
-- (docs/layout.md). Same table either way.
return require("cloudrenew.client.pages")
