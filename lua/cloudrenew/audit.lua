-- cloudrenew.audit is documented under this name; the module is cloudrenew.workflow.audit
-- (docs/layout.md). Same table either way.
return require("cloudrenew.workflow.audit")
