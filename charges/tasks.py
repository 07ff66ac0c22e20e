from celery import shared_task

from charges.rates import rates_refresh


@shared_task(name="charges.tasks.refresh_rates", ignore_result=True)
def refresh_rates() -> dict:
    """Beat, every minute: fetch, check and store the latest exchange rates (docs/rates.md)."""
    return rates_refresh()
