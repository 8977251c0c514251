-- cloudrenew.confirm is documented under this name; the module is cloudrenew.workflow.confirm
-- (docs/layout.md). Same table either way.
return require("cloudrenew.workflow.confirm")
