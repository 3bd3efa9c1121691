"""Sales: deals and their pipelines, activities and tasks, self-serve orders, the deal board."""
