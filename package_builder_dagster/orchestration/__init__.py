"""The Dagster layer: translator, resource, assets, sensors, definitions and the Component."""
