-- cloudrenew.dates is documented under this name; the module is cloudrenew.workflow.dates
-- (docs/layout.md). Same table either way.
return require("cloudrenew.workflow.dates")
