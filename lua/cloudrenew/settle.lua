-- cloudrenew.settle is documented under this name; the module is cloudrenew.workflow.settle
-- (docs/layout.md). Same table either way.
return require("cloudrenew.workflow.settle")
