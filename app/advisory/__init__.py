"""Per-project advice: the escalation-ladder plan, fine-tuning verdict and the CTO report.

Public API: `app.advisory.plan.build_recommendation`, `app.advisory.report.render_report`,
`app.advisory.report.recommendation_json`, `app.advisory.memory.choose_method`; the models are in
`app.advisory.schemas` (`ProjectContext` in, `Recommendation` out).
"""
